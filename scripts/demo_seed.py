"""Seeds the demo's todo-app data set (database `todo`) on the local server.

Three users, as MongoDB Atlas App Services would store them: string ids, a linked
identity each, items, a custom user data profile, comments with the author copied in,
shared projects, orders, shared and private documents, and login sessions.
"""
import datetime
import sys

import pymongo

USERS = {
    "6560f1c2a1b2c3d4e5f60001": {"name": "Alice Example", "email": "alice@example.com", "identity": "6560f1c2a1b2c3d4e5f6a001", "ip": "203.0.113.10"},
    "6560f1c2a1b2c3d4e5f60002": {"name": "Bob Example", "email": "bob@example.com", "identity": "6560f1c2a1b2c3d4e5f6a002", "ip": "203.0.113.20"},
    "6560f1c2a1b2c3d4e5f60003": {"name": "Carol Example", "email": "carol@example.com", "identity": "6560f1c2a1b2c3d4e5f6a003", "ip": "203.0.113.30"},
}


def main(uri: str) -> None:
    db = pymongo.MongoClient(uri).todo
    for name in ["Item", "custom_user_data", "comments", "projects", "orders", "shared_docs", "sessions"]:
        db[name].drop()
    now = datetime.datetime.now(datetime.timezone.utc)
    ids = list(USERS)
    for n, (uid, user) in enumerate(USERS.items()):
        db.Item.insert_many([{"owner_id": uid, "summary": f"task {i}", "isComplete": i % 2 == 0} for i in range(5 + n)])
        db.Item.insert_one({"owner_id": user["identity"], "summary": "made before linking accounts"})
        db.custom_user_data.insert_one({"user_id": uid, "identity_ids": [user["identity"]], "name": user["name"], "email": user["email"], "favoriteColor": "teal"})
        db.comments.insert_many([
            {"text": f"comment {i}", "author": {"id": uid, "name": user["name"], "email": user["email"], "ip": user["ip"]}}
            for i in range(2)
        ])
        db.orders.insert_one({"customer_id": uid, "created_at": now - datetime.timedelta(days=400 * (n + 1)),
                              "total": 19.99 + n, "shipping_address": f"{n + 1} Example Street"})
        db.shared_docs.insert_many([
            {"owner_id": uid, "shared": True, "title": "team notes"},
            {"owner_id": uid, "shared": False, "title": "private draft"},
        ])
        db.sessions.insert_one({"user_id": uid, "last_seen": now - datetime.timedelta(days=10)})
    db.projects.insert_many([
        {"title": "launch", "members": ids},
        {"title": "design", "members": [ids[0], ids[2]]},
        {"title": "ops", "members": [ids[1]]},
    ])
    db.Item.create_index("owner_id")
    db.custom_user_data.create_index("user_id")
    db.comments.create_index("author.id")
    db.projects.create_index("members")
    db.orders.create_index("customer_id")
    db.shared_docs.create_index("owner_id")
    counts = {name: db[name].count_documents({}) for name in sorted(db.list_collection_names())}
    print("seeded todo: " + ", ".join(f"{name} {count}" for name, count in counts.items()))


if __name__ == "__main__":
    main(sys.argv[1])
