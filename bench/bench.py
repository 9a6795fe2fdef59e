"""The benchmark of issue 7: Lethe's queue worker against the server's limit and a
per-user loop, on loopback and through a proxy adding 1 ms of round trip, and Lethe's
memory erasing one user who owns many documents. Run it with `scripts/bench.sh`, which
installs what is needed, starts a server, builds lethe and calls this file;
docs/benchmarks.md explains every number.
"""
import argparse
import contextlib
import datetime
import hashlib
import hmac
import json
import math
import os
import platform
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import bson
import pymongo
from bson import ObjectId, json_util
from pymongo import UpdateMany, UpdateOne, monitoring

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
DB = "lethe_bench"
STATE_DB = "lethe_bench_state"
COLLECTIONS = ["Item", "custom_user_data", "comments", "projects", "orders", "shared_docs", "attachments"]
INDEXES = [("Item", "owner_id"), ("custom_user_data", "user_id"), ("comments", "author.id"),
           ("projects", "members"), ("orders", "customer_id"), ("shared_docs", "owner_id"), ("attachments", "item_id")]
# The policy with one lookup (issue 17): an item's attachments are linked to the item,
# not to the user, and go with it; the lookup reads the user's items' _ids before the
# items are deleted.
LOOKUP_POLICY = """lookups:
  items: { collection: Item, match: owner_id, field: _id }
"""
LOOKUP_RULE = """  - collection: attachments
    match: item_id
    using: items
    action: delete
    description: Attachments of the user's items (reached through the items lookup).
"""
MEMBERS_PER_PROJECT = 4
TIMEOUT = 3 * 3600


def log(message: str) -> None:
    print(f"--- {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the data set

def user_id(i: int) -> str:
    """App Services user ids are 24 hex digits, stored as strings."""
    return f"6560f1c2{i:016x}"


def oid(collection: int, n: int) -> ObjectId:
    """Deterministic _ids, so that three runs on three seeds can be compared byte for byte."""
    return ObjectId(f"{collection:02x}{n:022x}")


def insert(db, name: str, docs) -> int:
    count, chunk = 0, []
    for doc in docs:
        chunk.append(doc)
        if len(chunk) == 5000:
            db[name].insert_many(chunk)
            count += len(chunk)
            chunk = []
    if chunk:
        db[name].insert_many(chunk)
        count += len(chunk)
    return count


def create_indexes(db) -> None:
    for name, key in INDEXES:
        db[name].create_index(key)


def drop_collections(db) -> None:
    for name in COLLECTIONS:
        db[name].drop()


def seed_users(db, users: int, per_user: int, base_date: datetime.datetime, with_attachments: bool = False) -> dict:
    """U users of the todo-app template: per user M items, one custom user data document,
    M comments, M orders, M shared or private documents, and membership of M projects of
    four members each."""
    drop_collections(db)
    m = per_user
    counts = {}
    counts["Item"] = insert(db, "Item", (
        {"_id": oid(1, i * m + j), "owner_id": user_id(i), "summary": f"task {j}", "isComplete": j % 2 == 0}
        for i in range(users) for j in range(m)))
    counts["custom_user_data"] = insert(db, "custom_user_data", (
        {"_id": oid(2, i), "user_id": user_id(i), "name": f"User {i}", "email": f"user{i}@example.com", "favoriteColor": "teal"}
        for i in range(users)))
    counts["comments"] = insert(db, "comments", (
        {"_id": oid(3, i * m + j), "text": f"comment {j}",
         "author": {"id": user_id(i), "name": f"User {i}", "email": f"user{i}@example.com", "ip": f"198.51.{i // 256 % 256}.{i % 256}"}}
        for i in range(users) for j in range(m)))
    # Slot s = j*U + i puts user i in M different projects of four consecutive users.
    projects = math.ceil(users * m / MEMBERS_PER_PROJECT)
    members = [[] for _ in range(projects)]
    for j in range(m):
        for i in range(users):
            members[(j * users + i) // MEMBERS_PER_PROJECT].append(user_id(i))
    counts["projects"] = insert(db, "projects", (
        {"_id": oid(4, p), "title": f"project {p}", "members": members[p]} for p in range(projects)))
    counts["orders"] = insert(db, "orders", (
        {"_id": oid(5, i * m + j), "customer_id": user_id(i), "created_at": base_date + datetime.timedelta(days=(i + j) % 300),
         "total": 10 + j, "shipping_address": f"{i} Example Street"}
        for i in range(users) for j in range(m)))
    counts["shared_docs"] = insert(db, "shared_docs", (
        {"_id": oid(6, i * m + j), "owner_id": user_id(i), "shared": j % 2 == 0, "title": f"doc {j}"}
        for i in range(users) for j in range(m)))
    if with_attachments:
        # One attachment per item, linked by the item's _id only.
        counts["attachments"] = insert(db, "attachments", (
            {"_id": oid(7, k), "item_id": oid(1, k), "name": f"file {k}.pdf"} for k in range(users * m)))
    create_indexes(db)
    return counts


def seed_one_owner(db, n: int, base_date: datetime.datetime) -> dict:
    """One user owning about N documents, spread over every rule: 40% items, 20%
    comments, 20% shared and private documents, 10% project memberships (with three
    other members each), 10% orders; plus the profile."""
    drop_collections(db)
    owner = user_id(0)
    share = {"Item": 0.4, "comments": 0.2, "shared_docs": 0.2, "projects": 0.1, "orders": 0.1}
    k = {name: max(1, int(n * part)) for name, part in share.items()}
    counts = {}
    counts["Item"] = insert(db, "Item", ({"_id": oid(1, j), "owner_id": owner, "summary": f"task {j}", "isComplete": False} for j in range(k["Item"])))
    counts["custom_user_data"] = insert(db, "custom_user_data", [{"_id": oid(2, 0), "user_id": owner, "name": "User 0", "email": "user0@example.com"}])
    counts["comments"] = insert(db, "comments", (
        {"_id": oid(3, j), "text": f"comment {j}", "author": {"id": owner, "name": "User 0", "email": "user0@example.com", "ip": f"198.51.100.{j % 256}"}}
        for j in range(k["comments"])))
    counts["projects"] = insert(db, "projects", (
        {"_id": oid(4, j), "title": f"project {j}", "members": [owner, user_id(1), user_id(2), user_id(3)]} for j in range(k["projects"])))
    counts["orders"] = insert(db, "orders", (
        {"_id": oid(5, j), "customer_id": owner, "created_at": base_date, "total": 10, "shipping_address": "0 Example Street"}
        for j in range(k["orders"])))
    counts["shared_docs"] = insert(db, "shared_docs", (
        {"_id": oid(6, j), "owner_id": owner, "shared": j % 2 == 0, "title": f"doc {j}"} for j in range(k["shared_docs"])))
    create_indexes(db)
    return counts


def item_ids(db, ids: list) -> list:
    return [d["_id"] for d in db.Item.find({"owner_id": {"$in": ids}}, {"_id": 1})]


def planned_changes(db, ids: list) -> dict:
    """What the policy changes for these users, counted before a run (not timed)."""
    q = {"$in": ids}
    return {
        "deleted": db.Item.count_documents({"owner_id": q}) + db.custom_user_data.count_documents({"user_id": q})
        + db.shared_docs.count_documents({"owner_id": q, "shared": {"$ne": True}})
        + db.attachments.count_documents({"item_id": {"$in": item_ids(db, ids)}}),
        "modified": db.comments.count_documents({"author.id": q}) + db.projects.count_documents({"members": q})
        + db.shared_docs.count_documents({"owner_id": q, "shared": True}),
        "retained": db.orders.count_documents({"customer_id": q}),
    }


def leftovers(db, ids: list, items: list = ()) -> int:
    """Documents that still hold one of the users' ids where the policy says it must go;
    with `items` (the users' item _ids, read before the run), their attachments too."""
    q = {"$in": ids}
    return sum(len(list(db[name].find(f, {"_id": 1}).limit(1000))) for name, f in [
        ("Item", {"owner_id": q}), ("custom_user_data", {"user_id": q}), ("comments", {"author.id": q}),
        ("projects", {"members": q}), ("shared_docs", {"owner_id": q}), ("attachments", {"item_id": {"$in": list(items)}})])


def digest(db) -> str:
    """One hash of every document of the data set, fields in canonical order."""
    h = hashlib.sha256()
    for name in COLLECTIONS:
        h.update(name.encode())
        for doc in db[name].find({}).sort("_id", 1):
            h.update(json_util.dumps(doc, sort_keys=True).encode())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- Lethe's tokens and hashes

class Anonymizer:
    """The same tokens and hashes as LetheCore/Crypto/Keys.swift, so that the baselines
    leave exactly the data Lethe leaves (the benchmark compares digests)."""

    def __init__(self, key_hex: str):
        self.key = bytes.fromhex(key_hex)

    def mac(self, purpose: str, message: bytes) -> bytes:
        return hmac.new(self.key, purpose.encode() + b"\0" + message, hashlib.sha256).digest()

    def token(self, uid: str) -> str:
        return "anon_" + self.mac("lethe-token-v1", uid.encode()).hex()[:24]

    def hash(self, value):
        if value is None or (isinstance(value, str) and value.startswith("h1:")):
            return value
        return "h1:" + self.mac("lethe-hash-v1", bson.encode({"v": value})).hex()[:32]

    def comment_update(self, uid: str, ip) -> dict:
        update = {"$set": {"author.name": "Deleted user", "author.id": self.token(uid)}, "$unset": {"author.email": ""}}
        if ip is not None:
            update["$set"]["author.ip"] = self.hash(ip)
        return update


# ---------------------------------------------------------------- the two baselines

class Counter(monitoring.CommandListener):
    def __init__(self):
        self.by_name: dict = {}
        self.on = False

    def started(self, event):
        if self.on:
            self.by_name[event.command_name] = self.by_name.get(event.command_name, 0) + 1

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


def server_limit(db, ids: list, anon: Anonymizer) -> None:
    """The same effects with the fewest commands: one set-based command per rule over all
    the users' ids, no bookkeeping. Comments need each user's token and a keyed hash of
    each IP, which the server cannot compute: one read of the comments, then one bulk
    write of one updateOne per comment, by _id. (One updateMany per (user, IP) pair is
    fewer operations but, on nx-27017, 20 times slower: each scans the collection. The
    limit takes the faster form. Projections name the top-level field: nx-27017 returns
    a dotted projection flattened, as "author.id".)"""
    q = {"$in": ids}
    db.Item.delete_many({"owner_id": q})
    db.custom_user_data.delete_many({"user_id": q})
    ops = [UpdateOne({"_id": d["_id"]}, anon.comment_update(d["author"]["id"], d["author"].get("ip")))
           for d in db.comments.find({"author.id": q}, {"author": 1})]
    if ops:
        db.comments.bulk_write(ops, ordered=False)
    db.projects.update_many({"members": q}, {"$pull": {"members": q}})
    # orders: retained, nothing to write.
    db.shared_docs.update_many({"owner_id": q, "shared": True}, {"$set": {"owner_id": None}})
    db.shared_docs.delete_many({"owner_id": q, "shared": {"$ne": True}})


BASELINE_RECORDS = "baseline_records"


def prepare_records(db, ids: list) -> None:
    """Before the clock: one request document per user, as a queue holds them."""
    records = db.client[STATE_DB][BASELINE_RECORDS]
    records.drop()
    db.client[STATE_DB][BASELINE_RECORDS + "_ledger"].drop()
    records.insert_many([{"_id": f"req-{n}", "state": "running"} for n in range(len(ids))])


def limit_with_records(db, ids: list, anon: Anonymizer) -> None:
    """The server's limit plus the records no erasure tool can skip (issue 18): one
    receipt per request, inserted as one bulk command, and one state update per request,
    as one command for the whole set. Counts only, no personal data, like Lethe's."""
    server_limit(db, ids, anon)
    state = db.client[STATE_DB]
    state[BASELINE_RECORDS + "_receipts"].insert_many(
        [{"request": f"req-{n}", "state": "done", "rules": 6, "verified": True} for n in range(len(ids))], ordered=False)
    state[BASELINE_RECORDS].update_many({"_id": {"$in": [f"req-{n}" for n in range(len(ids))]}}, {"$set": {"state": "done"}})


RETAINING_RULE = 4  # orders, in policies/todo-app.yaml


def limit_with_checks(db, ids: list, anon: Anonymizer) -> None:
    """The limit with records, plus the reads a tool whose receipts are true cannot skip
    either: per-request counts for the receipts (one `$group` per rule by its match
    field, before the writes), the retained documents' `_id`s for the ledger from which
    their `then` is applied once the ids are forgotten (one read, one insert of an entry
    per request), and after the writes one verification read per rule (documents still
    holding the ids, at most 1,000). A floor to measure Lethe by, not a tool: it takes no
    lease, keeps no checkpoint or audit trail, and cannot resume."""
    q = {"$in": ids}
    for name, field, where in [("Item", "owner_id", {}), ("custom_user_data", "user_id", {}), ("projects", "members", {}),
                               ("shared_docs", "owner_id", {"shared": True}), ("shared_docs", "owner_id", {"shared": {"$ne": True}})]:
        list(db[name].aggregate([{"$match": {field: q, **where}}, {"$group": {"_id": "$" + field, "n": {"$sum": 1}}}], batchSize=10_000))
    request_of = {uid: f"req-{n}" for n, uid in enumerate(ids)}
    retained: dict = {}
    for d in db.orders.find({"customer_id": q}, {"_id": 1, "customer_id": 1}).batch_size(10_000):
        retained.setdefault(request_of.get(d["customer_id"]), []).append(d["_id"])
    limit_with_records(db, ids, anon)
    if retained:
        db.client[STATE_DB][BASELINE_RECORDS + "_ledger"].insert_many(
            [{"request": request, "rule": RETAINING_RULE, "documents": documents} for request, documents in retained.items()], ordered=False)
    for name, f in [("Item", {"owner_id": q}), ("custom_user_data", {"user_id": q}), ("comments", {"author.id": q}), ("projects", {"members": q}),
                    ("shared_docs", {"owner_id": q, "shared": True}), ("shared_docs", {"owner_id": q, "shared": {"$ne": True}})]:
        list(db[name].find(f, {"_id": 1}).limit(1000))


def limit_with_lookup(db, ids: list, anon: Anonymizer) -> None:
    """The limit for the policy with one lookup: one read of the users' items' _ids (the
    lookup), one deleteMany of their attachments, then the limit's commands."""
    items = [d["_id"] for d in db.Item.find({"owner_id": {"$in": ids}}, {"_id": 1})]
    db.attachments.delete_many({"item_id": {"$in": items}})
    server_limit(db, ids, anon)


def per_user_loop(db, ids: list, anon: Anonymizer) -> None:
    """What an app developer writes by hand (an App Services trigger function): for each
    user, for each rule, one command. Comments take two (a read for the IPs to hash, then
    one bulk write), and are skipped when the user has none."""
    for uid in ids:
        db.Item.delete_many({"owner_id": uid})
        db.custom_user_data.delete_many({"user_id": uid})
        ops = [UpdateOne({"_id": d["_id"]}, anon.comment_update(uid, d["author"].get("ip")))
               for d in db.comments.find({"author.id": uid}, {"author": 1})]
        if ops:
            db.comments.bulk_write(ops, ordered=False)
        db.projects.update_many({"members": uid}, {"$pull": {"members": uid}})
        db.shared_docs.update_many({"owner_id": uid, "shared": True}, {"$set": {"owner_id": None}})
        db.shared_docs.delete_many({"owner_id": uid, "shared": {"$ne": True}})


# ---------------------------------------------------------------- running lethe

@dataclass
class Result:
    name: str
    network: str
    seconds: float = 0.0          # wall time
    drain: float | None = None     # lethe: time inside `run --once` (its stats file)
    commands: int | None = None
    by_name: dict = field(default_factory=dict)
    rss_kib: int | None = None
    changed: int = 0
    retained: int = 0
    requests: int = 0
    ok: bool = True
    note: str = ""
    digest: str = ""
    enqueue_seconds: float | None = None


class Lethe:
    def __init__(self, binary: str, policy_dir: str, key: str, work: str, run_args: list):
        self.binary, self.policy_dir, self.key, self.work, self.run_args = binary, policy_dir, key, work, run_args
        self.time = shutil.which("time", path="/usr/bin:/bin") or ""

    def env(self, uri: str) -> dict:
        env = dict(os.environ)
        env.update(LETHE_MONGODB_URI=uri, LETHE_HASH_KEY=self.key)
        env.pop("LETHE_SUBJECT_KEY", None)
        return env

    def common(self) -> list:
        return ["--policies", self.policy_dir, "--state-db", STATE_DB]

    def has_enqueue(self) -> bool:
        probe = subprocess.run([self.binary, "enqueue", "--help"], capture_output=True, text=True)
        return probe.returncode == 0 and "--event-file" in probe.stdout

    def run(self, args: list, uri: str, tag: str) -> tuple[subprocess.CompletedProcess, float, int | None]:
        """Runs lethe under /usr/bin/time (peak RSS) and returns the process, its wall time
        and its peak resident memory in KiB."""
        rss_file = os.path.join(self.work, f"{tag}.rss")
        command = [self.binary] + args
        if self.time:
            command = [self.time, "-f", "%M", "-o", rss_file] + command
        started = time.perf_counter()
        proc = subprocess.run(command, env=self.env(uri), capture_output=True, text=True, timeout=TIMEOUT)
        seconds = time.perf_counter() - started
        rss = None
        with contextlib.suppress(OSError, ValueError):
            rss = int(open(rss_file).read().strip().splitlines()[-1])
        return proc, seconds, rss

    def enqueue(self, ids: list, uri: str, tag: str) -> float:
        """Writes one CloudEvent per user (JSON Lines, at most 2,000 a file: bodies are
        limited to 1 MiB) and enqueues them. Returns the seconds it took (not counted)."""
        started = time.perf_counter()
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        for part in range(0, len(ids), 2000):
            path = os.path.join(self.work, f"{tag}-events-{part}.jsonl")
            with open(path, "w") as f:
                for n, uid in enumerate(ids[part:part + 2000], start=part):
                    f.write(json.dumps({"specversion": "1.0", "id": f"{tag}-{n}", "source": "lethe-bench", "type": "user.deleted",
                                        "time": stamp, "data": {"userId": uid, "identities": []}}) + "\n")
            proc, _, _ = self.run(["enqueue", "--event-file", path] + self.common(), uri, f"{tag}-enqueue")
            if proc.returncode != 0:
                raise RuntimeError(f"lethe enqueue failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
        return time.perf_counter() - started


# ---------------------------------------------------------------- the latency proxy

class Proxy:
    """bench/latency_proxy.py in its own process (not to share a GIL with the Python
    baselines). Its stdin is a pipe from here: it exits when this process ends."""

    def __init__(self, target_port: int, delay_ms: float, trace: str | None = None):
        self.proc = subprocess.Popen([sys.executable, os.path.join(BENCH_DIR, "latency_proxy.py"), "--target-port", str(target_port),
                                      "--delay-ms", f"{delay_ms:.4f}", "--lifetime", str(TIMEOUT)] + (["--trace", trace] if trace else []),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())
        self.delay_ms = delay_ms

    def stop(self):
        with contextlib.suppress(Exception):
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def ping_ms(uri: str, n: int = 300) -> float:
    client = pymongo.MongoClient(uri)
    try:
        client.admin.command("ping")
        times = []
        for _ in range(n):
            t = time.perf_counter()
            client.admin.command("ping")
            times.append(time.perf_counter() - t)
        return statistics.median(times) * 1000
    finally:
        client.close()


def calibrated_proxy(host_port: int, target_ms: float) -> tuple[Proxy, float, float]:
    """Starts the proxy and tunes its delay until a ping's median round trip through it is
    `target_ms` longer than direct (the proxy's own hops cost something too)."""
    direct = f"mongodb://127.0.0.1:{host_port}/?directConnection=true"
    delay = target_ms / 2
    proxy, added = None, 0.0
    for _ in range(4):
        if proxy:
            proxy.stop()
        proxy = Proxy(host_port, delay)
        base = ping_ms(direct)
        added = ping_ms(f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true") - base
        if abs(added - target_ms) <= 0.05 * target_ms:
            break
        delay = max(0.0, delay - (added - target_ms) / 2)
    return proxy, added, proxy.delay_ms


# ---------------------------------------------------------------- the benchmark

class Bench:
    def __init__(self, args):
        self.args = args
        self.uri = args.uri
        self.client = pymongo.MongoClient(self.uri)
        self.db = self.client[DB]
        self.key = secrets.token_hex(32)
        self.anon = Anonymizer(self.key)
        self.work = tempfile.mkdtemp(prefix="lethe-bench-")
        self.policy_dir = os.path.join(self.work, "policies")
        os.makedirs(self.policy_dir)
        text = open(os.path.join(ROOT, "policies", "todo-app.yaml")).read()
        lines = [f"database: {DB}" if line.startswith("database:") else line for line in text.splitlines()]
        open(os.path.join(self.policy_dir, "todo-app.yaml"), "w").write("\n".join(lines) + "\n")
        self.lethe = Lethe(args.lethe, self.policy_dir, self.key, self.work, args.run_args.split())
        # The same policy with one lookup and the rule that uses it (issue 17).
        self.lookup_policy_dir = os.path.join(self.work, "policies-lookup")
        os.makedirs(self.lookup_policy_dir)
        with_lookup = "\n".join(lines).replace("\nrules:\n", "\n" + LOOKUP_POLICY + "\nrules:\n" + LOOKUP_RULE, 1)
        assert LOOKUP_RULE in with_lookup, "policies/todo-app.yaml has no top-level rules: line"
        open(os.path.join(self.lookup_policy_dir, "todo-app.yaml"), "w").write(with_lookup + "\n")
        self.lethe_lookup = Lethe(args.lethe, self.lookup_policy_dir, self.key, self.work, args.run_args.split())
        self.items: list = []
        self.lookup_results: list[Result] = []
        self.base_date = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=400)).replace(microsecond=0)
        rng = random.Random(7)
        self.ids = [user_id(i) for i in sorted(rng.sample(range(args.users), args.requests))]
        self.enqueue = self.lethe.has_enqueue()
        self.results: list[Result] = []
        self.growth: Result | None = None
        self.growth_limit: Result | None = None
        self.memory: list[tuple[int, Result]] = []
        self.proxy_added = None
        self.proxy_delay = None
        self.seed_rate = None
        self.last_counts: dict | None = None
        self.profile: list[tuple[Result, dict]] = []

    def cleanup(self):
        for name in (DB, STATE_DB):
            with contextlib.suppress(Exception):
                self.client.drop_database(name)
        shutil.rmtree(self.work, ignore_errors=True)

    def reseed(self, per_user: int, lookup: bool = False) -> dict:
        self.client.drop_database(STATE_DB)
        started = time.perf_counter()
        counts = seed_users(self.db, self.args.users, per_user, self.base_date, with_attachments=lookup)
        self.items = item_ids(self.db, self.ids) if lookup else []
        self.seed_rate = sum(counts.values()) / (time.perf_counter() - started)
        if per_user == self.args.docs_per_user:
            self.last_counts = counts
        plan = planned_changes(self.db, self.ids)
        return {"counts": counts, **plan}

    def run_lethe(self, uri: str, network: str, per_user: int, lookup: bool = False) -> Result:
        seeded = self.reseed(per_user, lookup)
        r = Result("Lethe", network, changed=seeded["deleted"] + seeded["modified"], retained=seeded["retained"], requests=len(self.ids))
        tag = f"{network}-{per_user}" + ("-lookup" if lookup else "")
        lethe = self.lethe_lookup if lookup else self.lethe
        if self.enqueue:
            r.enqueue_seconds = lethe.enqueue(self.ids, self.uri, tag)
            stats_file = os.path.join(self.work, f"{tag}.stats.json")
            proc, r.seconds, r.rss_kib = lethe.run(
                ["run", "--once", "--stats-file", stats_file] + lethe.common() + lethe.run_args, uri, tag)
            stats = {}
            with contextlib.suppress(OSError, ValueError):
                stats = json.load(open(stats_file))
            r.drain = stats.get("seconds")
            r.commands = stats.get("commands")
            r.by_name = stats.get("commandsByName", {})
            done, failed = stats.get("done", 0), stats.get("failed", 0)
            if proc.returncode != 0 or done != len(self.ids) or failed:
                r.ok = False
                r.note = f"exit {proc.returncode}, {stats.get('requests')} requests, {done} done, {failed} failed: {proc.stderr.strip()[-500:]}"
        else:
            # FALLBACK while `lethe enqueue` does not exist: one `lethe erase` process per
            # user. Not the queue worker; never published as Lethe's numbers.
            started = time.perf_counter()
            peak = 0
            for n, uid in enumerate(self.ids):
                proc, _, rss = self.lethe.run(["erase", "--user", uid] + self.lethe.common(), uri, f"{tag}-{n}")
                peak = max(peak, rss or 0)
                if proc.returncode != 0:
                    r.ok = False
                    r.note = f"lethe erase exit {proc.returncode}: {proc.stderr.strip()[-500:]}"
                    break
            r.seconds, r.rss_kib = time.perf_counter() - started, peak or None
            r.name = "Lethe (FALLBACK: erase per user)"
        left = leftovers(self.db, self.ids, self.items)
        if left:
            r.ok = False
            r.note += f" {left} document(s) left that the policy says must go"
        r.digest = digest(self.db)
        return r

    def run_python(self, name: str, fn, uri: str, network: str, per_user: int, prepare=None, lookup: bool = False) -> Result:
        seeded = self.reseed(per_user, lookup)
        if prepare:
            prepare(self.db, self.ids)
        r = Result(name, network, changed=seeded["deleted"] + seeded["modified"], retained=seeded["retained"], requests=len(self.ids))
        counter = Counter()
        client = pymongo.MongoClient(uri, event_listeners=[counter])
        try:
            db = client[DB]
            client.admin.command("ping")  # connected before the clock starts, like lethe's drain
            counter.on = True
            started = time.perf_counter()
            fn(db, self.ids, self.anon)
            r.seconds = time.perf_counter() - started
            counter.on = False
        finally:
            client.close()
        r.by_name = counter.by_name
        r.commands = sum(counter.by_name.values())
        left = leftovers(self.db, self.ids, self.items)
        if left:
            r.ok = False
            r.note = f"{left} document(s) left that the policy says must go"
        r.digest = digest(self.db)
        return r

    def run_all(self):
        a = self.args
        networks = [("loopback", self.uri)]
        proxy = None
        try:
            if a.proxy_rtt_ms > 0:
                port = pymongo.uri_parser.parse_uri(self.uri)["nodelist"][0][1]
                log(f"starting the latency proxy (+{a.proxy_rtt_ms} ms round trip), calibrating")
                proxy, self.proxy_added, self.proxy_delay = calibrated_proxy(port, a.proxy_rtt_ms)
                log(f"proxy on 127.0.0.1:{proxy.port}: delay {self.proxy_delay:.3f} ms each way, measured +{self.proxy_added:.3f} ms per round trip")
                networks.append(("+1 ms RTT proxy" if a.proxy_rtt_ms == 1 else f"+{a.proxy_rtt_ms} ms RTT proxy",
                                 f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true"))
            for network, uri in networks:
                log(f"{network}: Lethe (R={len(self.ids)}, U={a.users}, M={a.docs_per_user})")
                self.results.append(self.run_lethe(uri, network, a.docs_per_user))
                self.show(self.results[-1])
                log(f"{network}: server's limit")
                self.results.append(self.run_python("server's limit", server_limit, uri, network, a.docs_per_user))
                self.show(self.results[-1])
                log(f"{network}: server's limit with records")
                self.results.append(self.run_python("limit with records", limit_with_records, uri, network, a.docs_per_user,
                                                    prepare=prepare_records))
                self.show(self.results[-1])
                log(f"{network}: server's limit with records and checks")
                self.results.append(self.run_python("limit with records and checks", limit_with_checks, uri, network, a.docs_per_user,
                                                    prepare=prepare_records))
                self.show(self.results[-1])
                log(f"{network}: per-user loop")
                self.results.append(self.run_python("per-user loop", per_user_loop, uri, network, a.docs_per_user))
                self.show(self.results[-1])
        finally:
            if proxy:
                proxy.stop()
        if a.lookup:
            log(f"loopback: the policy with one lookup (attachments of the users' items): Lethe, then the server's limit")
            self.lookup_results.append(self.run_lethe(self.uri, "loopback", a.docs_per_user, lookup=True))
            self.show(self.lookup_results[-1])
            self.lookup_results.append(self.run_python("server's limit", limit_with_lookup, self.uri, "loopback", a.docs_per_user, lookup=True))
            self.show(self.lookup_results[-1])
        if a.profile:
            port = pymongo.uri_parser.parse_uri(self.uri)["nodelist"][0][1]
            for name in ("Lethe", "server's limit"):
                log(f"profile: {name} through a tracing proxy without delay")
                trace = os.path.join(self.work, f"trace-{len(self.profile)}.json")
                tracer = Proxy(port, 0.0, trace)
                try:
                    uri = f"mongodb://127.0.0.1:{tracer.port}/?directConnection=true"
                    if name == "Lethe":
                        r = self.run_lethe(uri, "profile", a.docs_per_user)
                    else:
                        r = self.run_python(name, server_limit, uri, "profile", a.docs_per_user)
                finally:
                    tracer.stop()
                times = {}
                with contextlib.suppress(OSError, ValueError):
                    times = json.load(open(trace))
                if a.timelines and os.path.exists(trace + ".timeline"):
                    os.makedirs(a.timelines, exist_ok=True)
                    shutil.copy(trace + ".timeline", os.path.join(a.timelines, name.replace("'", "").replace(" ", "-") + ".timeline"))
                self.profile.append((r, times))
                self.show(r)
        if a.growth_docs_per_user > 0:
            log(f"loopback: Lethe with M={a.growth_docs_per_user} documents per user (commands per request must not grow)")
            self.growth = self.run_lethe(self.uri, "loopback", a.growth_docs_per_user)
            self.show(self.growth)
            # The limit too: what grows with the data whatever the tool (reading the
            # documents whose values are hashed) against what is Lethe's own.
            self.growth_limit = self.run_python("server's limit", server_limit, self.uri, "loopback", a.growth_docs_per_user)
            self.show(self.growth_limit)
        for n in a.memory_docs:
            log(f"memory: Lethe erasing one user who owns {n} documents")
            self.memory.append((n, self.run_memory(n)))
            self.show(self.memory[-1][1])

    def run_memory(self, n: int) -> Result:
        self.client.drop_database(STATE_DB)
        counts = seed_one_owner(self.db, n, self.base_date)
        plan = planned_changes(self.db, [user_id(0)])
        r = Result(f"Lethe erase, {n} documents", "loopback", changed=plan["deleted"] + plan["modified"], retained=plan["retained"], requests=1)
        owned = sum(counts.values())
        proc, r.seconds, r.rss_kib = self.lethe.run(
            ["erase", "--user", user_id(0), "--max-documents", str(owned * 2)] + self.lethe.common(), self.uri, f"memory-{n}")
        if proc.returncode != 0:
            r.ok = False
            r.note = f"exit {proc.returncode}: {proc.stderr.strip()[-500:]}"
        left = leftovers(self.db, [user_id(0)])
        if left:
            r.ok = False
            r.note += f" {left} document(s) left"
        r.note = (r.note + f" (owns {owned} documents)").strip()
        return r

    @staticmethod
    def show(r: Result):
        parts = [f"{r.name} [{r.network}]: {r.seconds:.3f} s"]
        if r.drain is not None:
            parts.append(f"drain {r.drain:.3f} s")
        if r.commands is not None:
            parts.append(f"{r.commands} commands")
        if r.rss_kib:
            parts.append(f"peak RSS {r.rss_kib / 1024:.1f} MiB")
        parts.append("ok" if r.ok else f"FAILED {r.note}")
        log(", ".join(parts))


# ---------------------------------------------------------------- the report

def fmt_s(x):
    return "–" if x is None else f"{x:.3f} s"


def fmt_ratio(x):
    return "–" if x is None or not math.isfinite(x) else f"{x:.2f}×"


def mib(kib):
    return "–" if not kib else f"{kib / 1024:.1f} MiB"


DATA_COLLECTIONS = ("Item", "custom_user_data", "comments", "projects", "orders", "shared_docs", "attachments")
WRITES = {"delete", "update", "insert", "findAndModify"}
# Lethe's own records, by the state collection they go to, in the order shown.
RECORDS = [
    ("requests", "requests: claims, start marks, final states"),
    ("receipts", "receipts"),
    ("audit", "audit entries"),
    ("retainedGroups", "retained ledger"),
    ("batches", "checkpoints"),
]


def purpose_table(profile: list, data: set) -> list:
    """The profile's commands summed by what they are for: the data's writes and reads
    (what any tool must do) against Lethe's records, with the room the 1.25× target
    leaves for those records."""
    writing, reading = "writing the data", "reading the data (attribution, verification, values to hash)"
    record = {coll: "Lethe's records: " + label for coll, label in RECORDS}
    other, sessions = "Lethe's records: other (holds, runs, policies, inbox, indexes)", "connections and sessions"

    def purpose(name: str) -> str:
        command, _, collection = name.partition(" ")
        if collection in data:
            return writing if command in WRITES else reading
        return record.get(collection, other if collection else sessions)
    order = [writing, reading] + list(record.values()) + [other, sessions]
    sums = []
    for _, t in profile:
        by = {}
        for name, e in t.items():
            p = purpose(name)
            c, sec = by.get(p, (0, 0.0))
            by[p] = (c + e["count"], sec + e["seconds"])
        sums.append(by)
    out = ["The same commands by what they are for:", "",
           "| for | " + " | ".join(f"{r.name}: count | {r.name}: seconds" for r, _ in profile) + " |",
           "|---|" + "---:|---:|" * len(profile)]
    for p in order:
        if not any(p in by for by in sums):
            continue
        cells = []
        for by in sums:
            c, sec = by.get(p, (0, 0.0))
            cells += [str(c) if c else "–", f"{sec:.3f}" if c else "–"]
        out.append(f"| {p} | " + " | ".join(cells) + " |")
    out.append("")
    names = [r.name for r, _ in profile]
    if "Lethe" in names and "server's limit" in names:
        lethe, limit = sums[names.index("Lethe")], sums[names.index("server's limit")]
        limit_total = sum(sec for _, sec in limit.values())
        records = sum(sec for p, (_, sec) in lethe.items() if p in record.values() or p == other)
        core = sum(lethe.get(record[coll], (0, 0.0))[1] for coll in ("requests", "receipts"))
        out.append(f"At 1.25×, Lethe's commands may take 0.25 × the limit's {limit_total:.3f} s = {0.25 * limit_total:.3f} s more than the "
                   f"limit's. Its records alone take {records:.3f} s, of which {core:.3f} s go to the records each request "
                   "cannot do without: its lease and state (requests) and its receipt.")
        out.append("")
    return out


def machine() -> dict:
    info = {"nproc": os.cpu_count(), "cpu": "unknown", "memory": "unknown", "kernel": platform.release()}
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                info["memory"] = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    info["load"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return info


def verdict(ok: bool | None) -> str:
    return "**not assessed**" if ok is None else ("**met**" if ok else "**NOT met**")


def report(bench: Bench, args, started_at: datetime.datetime, load_before: str) -> str:
    a, m = args, machine()
    R = len(bench.ids)
    fallback = not bench.enqueue
    out = []
    title = "# Benchmarks" if not fallback else "# Benchmarks — FALLBACK RUN (not Lethe's queue numbers)"
    out.append(title)
    out.append("")
    out.append("Written by `scripts/bench.sh`; every run overwrites this file. What each number means, and")
    out.append("the caveats: [docs/benchmarks.md](docs/benchmarks.md). The server is **nx-27017**, a")
    out.append("MongoDB-wire server written in Python over SQLite, not MongoDB: compare the ratios of one")
    out.append("run, not absolute times.")
    out.append("")
    if fallback:
        out.append("> This lethe has no `enqueue` command, so the Lethe rows ran `lethe erase --user` once per")
        out.append("> user (one process each). They check the harness only; they are not Lethe's numbers.")
        out.append("")
    out.append(f"- Date: {started_at.strftime('%Y-%m-%d %H:%M UTC')}")
    out.append(f"- Command: `{a.command}`")
    out.append(f"- Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']} memory, Linux {m['kernel']}; "
               f"load average {load_before} before, {m['load']} after")
    out.append(f"- Server: {a.server_desc}")
    out.append(f"- Lethe: {a.lethe_desc}")
    out.append(f"- Client of the baselines: Python {platform.python_version()}, pymongo {pymongo.version}")
    out.append(f"- Sizes: U = {a.users} users, R = {R} deletion requests, M = {a.docs_per_user} documents per user per "
               f"collection; data set {sum(bench.last_counts.values()) if bench.last_counts else '?'} documents "
               f"({', '.join(f'{k} {v}' for k, v in (bench.last_counts or {}).items())})")
    if bench.proxy_added is not None:
        out.append(f"- Latency proxy (bench/latency_proxy.py): delay set to {bench.proxy_delay:.3f} ms each way; measured "
                   f"round trip added to a ping: **{bench.proxy_added:.2f} ms** (median of 300)")
    if bench.seed_rate:
        out.append(f"- Seeding speed of this server: {bench.seed_rate:,.0f} documents/s (pymongo insert_many)")
    out.append("")

    def rows(network):
        return [r for r in bench.results if r.network == network]

    networks = list(dict.fromkeys(r.network for r in bench.results))
    summary = {}
    for network in networks:
        rs = rows(network)
        by = {r.name.split(" (")[0]: r for r in rs}
        lethe, limit, loop = by.get("Lethe"), by.get("server's limit"), by.get("per-user loop")
        records = by.get("limit with records")
        checks = by.get("limit with records and checks")
        out.append(f"## {network[0].upper() + network[1:]}")
        out.append("")
        out.append("| | wall time | time inside lethe | documents changed/s | requests/s | commands | commands/request | peak RSS of lethe | same data as Lethe | verified |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|:---:|:---:|")
        for r in rs:
            same = "–" if r is lethe or lethe is None else ("yes" if r.digest == lethe.digest else "**NO**")
            cpr = "–" if r.commands is None else f"{r.commands / R:.3f}"
            out.append(f"| {r.name} | {fmt_s(r.seconds)} | {fmt_s(r.drain)} | {r.changed / r.seconds:,.0f} | {R / r.seconds:,.1f} | "
                       f"{'–' if r.commands is None else r.commands} | {cpr} | {mib(r.rss_kib)} | {same} | {'yes' if r.ok else '**FAILED** ' + r.note} |")
        out.append("")
        if lethe and limit and loop:
            s = {
                "lethe_limit": lethe.seconds / limit.seconds,
                "lethe_limit_drain": (lethe.drain / limit.seconds) if lethe.drain else None,
                "loop_lethe": loop.seconds / lethe.seconds,
                "cmd_ratio": (lethe.commands / loop.commands) if lethe.commands and loop.commands else None,
                "ok": lethe.ok and limit.ok and loop.ok and lethe.digest == limit.digest == loop.digest,
                "lethe_records": (lethe.seconds / records.seconds) if records else None,
                "lethe_records_drain": (lethe.drain / records.seconds) if records and lethe.drain else None,
                "lethe_checks": (lethe.seconds / checks.seconds) if checks else None,
                "checks_records": (checks.seconds / records.seconds) if checks and records else None,
            }
            summary[network] = s
            cmd = "–" if s["cmd_ratio"] is None else f"{s['cmd_ratio']:.4f} (1/{1 / s['cmd_ratio']:.0f})"
            out.append(f"Lethe / limit: **{fmt_ratio(s['lethe_limit'])}** by wall time"
                       f" ({fmt_ratio(s['lethe_limit_drain'])} by the time inside `lethe run --once`, without process start"
                       f" and connection). Loop / Lethe: **{fmt_ratio(s['loop_lethe'])}**."
                       f" Commands per request, Lethe / loop: **{cmd}**.")
            if s["lethe_records"] is not None:
                out.append(f"Lethe / limit with records (one bulk insert of receipts, one state update for the set): "
                           f"**{fmt_ratio(s['lethe_records'])}** ({fmt_ratio(s['lethe_records_drain'])} by the time inside lethe).")
            if s["lethe_checks"] is not None:
                out.append(f"Lethe / limit with records and checks (also per-request counts, the retained ledger and one verification"
                           f" read per rule): **{fmt_ratio(s['lethe_checks'])}**. The checks alone take the limit with records to"
                           f" **{fmt_ratio(s['checks_records'])}** of itself: what no tool whose receipts are true can go below on this server.")
            out.append("")
            if lethe.enqueue_seconds is not None:
                out.append(f"Enqueueing the {R} events (`lethe enqueue`, not counted above): {lethe.enqueue_seconds:.3f} s.")
                out.append("")
        out.append("Commands by name:")
        out.append("")
        for r in rs:
            names = ", ".join(f"{k} {v}" for k, v in sorted(r.by_name.items(), key=lambda kv: (-kv[1], kv[0])))
            out.append(f"- {r.name}: {names or '–'}")
        out.append("")

    lookup_ratio = None
    if bench.lookup_results:
        by = {r.name: r for r in bench.lookup_results}
        lethe, limit = by.get("Lethe"), by.get("server's limit")
        out.append("## One lookup (issue 17; loopback)")
        out.append("")
        out.append("The same policy plus `lookups: { items: { collection: Item, match: owner_id, field: _id } }` and a rule")
        out.append("deleting `attachments` (one per item, linked by `item_id` only) `using: items`. The limit reads the")
        out.append("items' `_id`s once, deletes their attachments, then runs its commands.")
        out.append("")
        out.append("| | wall time | time inside lethe | commands | commands/request | peak RSS of lethe | same data as Lethe | verified |")
        out.append("|---|---:|---:|---:|---:|---:|:---:|:---:|")
        for r in bench.lookup_results:
            same = "–" if r is lethe or lethe is None else ("yes" if r.digest == lethe.digest else "**NO**")
            cpr = "–" if r.commands is None else f"{r.commands / R:.3f}"
            out.append(f"| {r.name} | {fmt_s(r.seconds)} | {fmt_s(r.drain)} | {'–' if r.commands is None else r.commands} | {cpr} | "
                       f"{mib(r.rss_kib)} | {same} | {'yes' if r.ok else '**FAILED** ' + r.note} |")
        out.append("")
        if lethe and limit:
            lookup_ratio = lethe.seconds / limit.seconds
            plain = summary.get("loopback", {}).get("lethe_limit")
            out.append(f"Lethe / limit with one lookup: **{fmt_ratio(lookup_ratio)}**; without it (above): {fmt_ratio(plain)}.")
            out.append("")
            for r in (lethe, limit):
                names = ", ".join(f"{k} {v}" for k, v in sorted(r.by_name.items(), key=lambda kv: (-kv[1], kv[0])))
                out.append(f"- {r.name}: {names or '–'}")
            out.append("")

    if bench.profile:
        out.append("## Where the time goes (loopback, through a tracing proxy without delay)")
        out.append("")
        out.append("Each run again on a fresh seed, its commands read off the wire: per command name, how many")
        out.append("and the seconds from request to reply (the server's time, plus ~0.1 ms of proxy per command).")
        out.append("Handshakes and heartbeats show up here, unlike in the command counts above.")
        out.append("")
        names = sorted({n for _, t in bench.profile for n in t}, key=lambda n: -max(t.get(n, {}).get("seconds", 0) for _, t in bench.profile))
        out.append("| command | " + " | ".join(f"{r.name}: count | {r.name}: seconds" for r, _ in bench.profile) + " |")
        out.append("|---|" + "---:|---:|" * len(bench.profile))
        for n in names:
            cells = []
            for _, t in bench.profile:
                e = t.get(n)
                cells += [str(e["count"]) if e else "–", f"{e['seconds']:.3f}" if e else "–"]
            out.append(f"| {n} | " + " | ".join(cells) + " |")
        totals = []
        for r, t in bench.profile:
            server = sum(e["seconds"] for e in t.values())
            totals.append(f"{r.name}: wall {r.seconds:.3f} s, in commands {server:.3f} s, outside them {r.seconds - server:.3f} s"
                          + (" (process start, connecting, the client's own work)" if r.name == "Lethe" else " (the client's own work)")
                          + ("" if r.ok else " — **FAILED** " + r.note))
        out.append("")
        for line in totals:
            out.append(f"- {line}")
        out.append("")
        out.extend(purpose_table(bench.profile, set(bench.last_counts or DATA_COLLECTIONS)))

    if bench.growth:
        g = bench.growth
        base = next((r for r in bench.results if r.name == "Lethe" and r.network == "loopback"), None)
        out.append("## Commands per request against documents per user (loopback, Lethe)")
        out.append("")
        limit_base = next((r for r in bench.results if r.name == "server's limit" and r.network == "loopback"), None)
        out.append("| M (documents per user per collection) | wall time | commands | commands/request | peak RSS | verified | server's limit: wall time | server's limit: commands/request |")
        out.append("|---:|---:|---:|---:|---:|:---:|---:|---:|")
        for mm, r, lim in ([(a.docs_per_user, base, limit_base)] if base else []) + [(a.growth_docs_per_user, g, bench.growth_limit)]:
            cpr = "–" if r.commands is None else f"{r.commands / R:.3f}"
            lim_s = "–" if lim is None else fmt_s(lim.seconds) + ("" if lim.ok else " **FAILED**")
            lim_c = "–" if lim is None or lim.commands is None else f"{lim.commands / R:.3f}"
            out.append(f"| {mm} | {fmt_s(r.seconds)} | {'–' if r.commands is None else r.commands} | {cpr} | {mib(r.rss_kib)} | {'yes' if r.ok else '**FAILED** ' + r.note} | {lim_s} | {lim_c} |")
        out.append("")
        for name, r in [("Lethe", g), ("server's limit", bench.growth_limit)]:
            if r is not None:
                out.append("Commands by name at M = %d, %s: %s" % (a.growth_docs_per_user, name, ", ".join(f"{k} {v}" for k, v in sorted(r.by_name.items(), key=lambda kv: (-kv[1], kv[0]))) or "–"))
                out.append("")

    if bench.memory:
        out.append("## Memory: lethe erasing one user who owns N documents (`lethe erase`, loopback)")
        out.append("")
        out.append("| N | documents changed | retained | wall time | peak RSS of lethe | verified |")
        out.append("|---:|---:|---:|---:|---:|:---:|")
        for n, r in bench.memory:
            out.append(f"| {n:,} | {r.changed:,} | {r.retained:,} | {fmt_s(r.seconds)} | {mib(r.rss_kib)} | {'yes' if r.ok else '**FAILED**'} {r.note} |")
        out.append("")

    # Targets of issue 7.
    out.append("## Targets of issue 7")
    out.append("")
    out.append("| target | measured | verdict |")
    out.append("|---|---|---|")
    at_size = R == 1000
    size_note = "" if at_size else f" (the target is set at R = 1,000; this run has R = {R})"
    for network, label in [("loopback", "on loopback"), (next((n for n in networks if n != "loopback"), None), "through the +1 ms proxy")]:
        s = summary.get(network)
        if not s:
            out.append(f"| Lethe's time ≤ 1.25 × the limit's {label} | not measured | **not assessed** |")
            continue
        met = None if fallback else (s["lethe_limit"] <= 1.25 and s["ok"])
        if not at_size and met is not None:
            met_txt = ("met" if met else "NOT met") + " at this size; " + verdict(None)
        else:
            met_txt = verdict(met)
        out.append(f"| Lethe's time ≤ 1.25 × the limit's {label} | {fmt_ratio(s['lethe_limit'])}{size_note} | {met_txt} |")
    for network, label in [("loopback", "on loopback"), (next((n for n in networks if n != "loopback"), None), "through the +1 ms proxy")]:
        s = summary.get(network)
        if not s or s.get("lethe_records") is None:
            out.append(f"| Lethe's time ≤ 1.25 × the limit with records {label} (issue 18) | not measured | **not assessed** |")
            continue
        met = None if fallback else (s["lethe_records"] <= 1.25 and s["ok"])
        met_txt = verdict(met) if at_size or met is None else ("met" if met else "NOT met") + " at this size; " + verdict(None)
        out.append(f"| Lethe's time ≤ 1.25 × the limit with records {label} (issue 18) | {fmt_ratio(s['lethe_records'])}{size_note} | {met_txt} |")
    s = summary.get("loopback")
    if s and lookup_ratio is not None:
        by = {r.name: r for r in bench.lookup_results}
        ok = all(r.ok for r in bench.lookup_results) and by["Lethe"].digest == by["server's limit"].digest
        met = None if fallback else (lookup_ratio <= s["lethe_limit"] * 1.10 and ok)
        out.append(f"| With one lookup, Lethe / limit no more than 10% above the figure without (issue 17) | "
                   f"{fmt_ratio(lookup_ratio)} against {fmt_ratio(s['lethe_limit'])} ({lookup_ratio / s['lethe_limit']:.2f}×) | {verdict(met)} |")
    else:
        out.append("| With one lookup, Lethe / limit no more than 10% above the figure without (issue 17) | not measured | **not assessed** |")
    if s and s["cmd_ratio"] is not None:
        met = None if fallback else s["cmd_ratio"] <= 1 / 20
        txt = verdict(met) if at_size or met is None else ("met" if met else "NOT met") + " at this size; " + verdict(None)
        out.append(f"| Commands per request ≤ 1/20 of the loop's | {s['cmd_ratio']:.4f} (1/{1 / s['cmd_ratio']:.0f}){size_note} | {txt} |")
    else:
        out.append("| Commands per request ≤ 1/20 of the loop's | not measured | **not assessed** |")
    base = next((r for r in bench.results if r.name == "Lethe" and r.network == "loopback"), None)
    if bench.growth and base and base.commands and bench.growth.commands:
        grew = bench.growth.commands / base.commands
        out.append(f"| Commands per request do not grow with documents per user | {base.commands / R:.3f} at M = {a.docs_per_user}, "
                   f"{bench.growth.commands / R:.3f} at M = {a.growth_docs_per_user} ({grew:.2f}×) | {verdict(None if fallback else grew <= 1.0)} |")
    else:
        out.append("| Commands per request do not grow with documents per user | not measured | **not assessed** |")
    if bench.memory:
        rss = {n: r.rss_kib for n, r in bench.memory}
        largest = max(rss)
        under = all(v and v < 64 * 1024 for v in rss.values())
        smallest = min(rss)
        flat = rss[largest] and rss[smallest] and rss[largest] <= rss[smallest] * 1.25 + 4 * 1024
        sizes_ok = set(rss) >= {20000, 200000}
        measured = ", ".join(f"{mib(v)} at N = {n:,}" for n, v in sorted(rss.items()))
        if rss[largest] and rss[smallest] and largest != smallest:
            measured += f" ({rss[largest] / rss[smallest]:.2f}× from the smallest N to the largest)"
        ok_all = all(r.ok for _, r in bench.memory)
        met = under and flat and ok_all
        txt = verdict(met) if sizes_ok else ("met" if met else "NOT met") + " at these sizes; " + verdict(None) + " at N = 20,000 and 200,000"
        out.append(f"| Peak RSS < 64 MiB for one user owning 20,000 and 200,000 documents, not growing with N | {measured} | {txt} |")
    else:
        out.append("| Peak RSS < 64 MiB for one user owning 20,000 and 200,000 documents | not measured | **not assessed** |")
    out.append("")
    out.append("“Same data as Lethe”: a digest of every document of the data set after the run (fields in")
    out.append("canonical order), compared with Lethe's; the baselines reproduce Lethe's tokens and keyed")
    out.append("hashes, so equal digests mean equal effects.")
    out.append("")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description="Run by scripts/bench.sh; see docs/benchmarks.md.")
    p.add_argument("--uri", required=True)
    p.add_argument("--lethe", required=True, help="the lethe binary")
    p.add_argument("--users", type=int, default=2000)
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--docs-per-user", type=int, default=5)
    p.add_argument("--growth-docs-per-user", type=int, default=20)
    p.add_argument("--memory-docs", default="20000,200000")
    p.add_argument("--proxy-rtt-ms", type=float, default=1.0)
    p.add_argument("--run-args", default="", help="extra arguments for `lethe run --once`")
    p.add_argument("--no-profile", dest="profile", action="store_false", help="skip the profile runs through a tracing proxy")
    p.add_argument("--no-lookup", dest="lookup", action="store_false", help="skip the runs of the policy with one lookup")
    p.add_argument("--timelines", help="keep each profile run's commands in order (start, duration, name) in this directory")
    p.add_argument("--output", default=os.path.join(ROOT, "BENCHMARKS.md"))
    p.add_argument("--command", default="scripts/bench.sh")
    p.add_argument("--server-desc", default="")
    p.add_argument("--lethe-desc", default="")
    p.add_argument("--cleanup-only", action="store_true", help="drop the benchmark's databases and exit")
    args = p.parse_args()
    args.memory_docs = [int(x) for x in args.memory_docs.split(",") if x.strip() and int(x) > 0]
    if args.cleanup_only:
        client = pymongo.MongoClient(args.uri, serverSelectionTimeoutMS=3000)
        for name in (DB, STATE_DB):
            with contextlib.suppress(Exception):
                client.drop_database(name)
        return 0
    if not 0 < args.requests <= args.users:
        p.error("--requests must be between 1 and --users")

    started_at = datetime.datetime.now(datetime.timezone.utc)
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    bench = Bench(args)
    clock = time.perf_counter()
    try:
        if not bench.enqueue:
            log("this lethe has no `enqueue` command: FALLBACK, one `lethe erase` per user (harness check only)")
        bench.run_all()
    finally:
        bench.cleanup()
    text = report(bench, args, started_at, load_before)
    text += f"Total time of the benchmark: {time.perf_counter() - clock:.0f} s.\n"
    output = args.output
    if not bench.enqueue and os.path.abspath(output) == os.path.join(ROOT, "BENCHMARKS.md"):
        output = os.path.join(ROOT, ".run", "bench", "BENCHMARKS.fallback.md")
        os.makedirs(os.path.dirname(output), exist_ok=True)
    # The sweep benchmark's part (scripts/bench-sweep.sh) stays as it was.
    sweeps = ""
    with contextlib.suppress(OSError):
        previous = open(output).read()
        begin, end = "<!-- SWEEPS: written by scripts/bench-sweep.sh -->", "<!-- /SWEEPS -->"
        if begin in previous and end in previous:
            sweeps = "\n" + previous[previous.index(begin):previous.index(end) + len(end)] + "\n"
    with open(output, "w") as f:
        f.write(text + sweeps)
    print(text)
    log(f"written to {os.path.relpath(output, os.getcwd())}")
    failed = [r for r in bench.results + [x for _, x in bench.memory] + [x for x, _ in bench.profile] + [x for x in (bench.growth, bench.growth_limit) if x] if not r.ok]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
