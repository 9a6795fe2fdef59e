import BSON
import Foundation
import LetheCore
import LetheService
import LetheTestSupport
import MongoKit
import Testing

/// The example policy, as written.
let todoPolicyYAML = """
version: 1
name: todo-app
database: DATABASE
subject:
  idType: string
  includeIdentities: true
deadline: 30d
rules:
  - collection: Item
    match: owner_id
    action: delete
  - collection: custom_user_data
    match: user_id
    action: delete
  - collection: comments
    match: author.id
    action: anonymize
    set: { author.name: Deleted user }
    unset: [author.email]
    hash: [author.ip]
    pseudonymize: [author.id]
  - collection: projects
    match: members
    action: pull
  - collection: orders
    match: customer_id
    action: retain
    reason: Commercial records are kept for 10 years
    until: { field: created_at, after: 10y }
    then: { action: anonymize, set: { shipping_address: null } }
  - collection: shared_docs
    match: owner_id
    where: { shared: true }
    action: anonymize
    set: { owner_id: null }
retention:
  - collection: sessions
    field: last_seen
    olderThan: 180d
    action: delete
"""

let testHashKey = try! SecretKey(text: String(repeating: "5a", count: 32))
let testSubjectKey = try! SecretKey(text: String(repeating: "c3", count: 32))

/// A seeded todo-app database and a runtime over it, for one test.
struct TodoFixture: TearsDown {
    static let alice = ErasureSubject(userId: "alice-0001", identities: ["alice-google-77"])
    static let bob = ErasureSubject(userId: "bob-0002", identities: ["bob-apple-88"])

    let runtime: LetheRuntime
    let database: MongoDatabase
    let policy: Policy

    static func policy(database: String, yaml: String = todoPolicyYAML) throws -> Policy {
        let result = PolicyLoader.load(yaml: yaml.replacingOccurrences(of: "DATABASE", with: database), file: "todo.yaml",
                                       options: .init(hashKeyConfigured: true))
        #expect(!result.hasErrors, "\(result.diagnostics)")
        return try #require(result.policies.first)
    }

    static func make(
        yaml: String = todoPolicyYAML, options: ErasureEngine.Options = .init(), itemsPerUser: Int = 3,
        database name: String = TestServer.uniqueDatabaseName("todo"), wrap: ((any DataStore) -> any DataStore)? = nil
    ) async throws -> TodoFixture {
        let policy = try policy(database: name, yaml: yaml)
        let configuration = LetheConfiguration(
            connectionString: try ConnectionString(TestServer.uri!), policies: [policy], stateDatabase: name + "_state",
            hashKey: testHashKey, subjectKey: testSubjectKey, engine: options
        )
        var runtime = try await LetheRuntime.start(configuration)
        if let wrap {
            runtime = LetheRuntime(pool: runtime.pool, data: runtime.data, state: runtime.state, engine: ErasureEngine(
                data: wrap(runtime.data), state: runtime.state, policies: [policy], anonymizer: Anonymizer(key: testHashKey), options: options
            ))
        }
        let fixture = TodoFixture(runtime: runtime, database: runtime.pool.database(name), policy: policy)
        try await fixture.seed(itemsPerUser: itemsPerUser)
        return fixture
    }

    func seed(itemsPerUser: Int) async throws {
        let created = BSONDatetime(millisecondsSinceEpoch: 1_700_000_000_000)
        var items: [BSONDocument] = []
        for (user, identity) in [("alice-0001", "alice-google-77"), ("bob-0002", "bob-apple-88")] {
            for i in 0..<itemsPerUser { items.append(["summary": .string("task \(i) of \(user)"), "owner_id": .string(user)]) }
            items.append(["summary": "made with a linked identity", "owner_id": .string(identity)])
        }
        try await database.collection("Item").insertMany(items)
        try await database.collection("custom_user_data").insertMany([
            ["user_id": "alice-0001", "email": "alice@example.com", "name": "Alice"],
            ["user_id": "bob-0002", "email": "bob@example.com", "name": "Bob"],
        ])
        try await database.collection("comments").insertMany([
            ["text": "first", "author": ["id": "alice-0001", "name": "Alice", "email": "alice@example.com", "ip": "10.0.0.1"]],
            ["text": "second", "author": ["id": "alice-google-77", "name": "Alice", "email": "alice@example.com"]],
            ["text": "third", "author": ["id": "bob-0002", "name": "Bob", "email": "bob@example.com", "ip": "10.0.0.2"]],
        ])
        try await database.collection("projects").insertMany([
            ["title": "shared", "members": ["alice-0001", "bob-0002"]],
            ["title": "solo", "members": ["alice-0001", "alice-google-77"]],
            ["title": "bob only", "members": ["bob-0002"]],
        ])
        try await database.collection("orders").insertMany([
            ["customer_id": "alice-0001", "created_at": .datetime(created), "shipping_address": "1 Alice Street"],
            ["customer_id": "bob-0002", "created_at": .datetime(created), "shipping_address": "2 Bob Road"],
        ])
        try await database.collection("shared_docs").insertMany([
            ["owner_id": "alice-0001", "shared": true, "title": "public"],
            ["owner_id": "alice-0001", "shared": false, "title": "private"],
            ["owner_id": "bob-0002", "shared": true, "title": "bob's"],
        ])
    }

    static let collections = ["Item", "custom_user_data", "comments", "projects", "orders", "shared_docs"]

    /// Every document of every collection, by collection, in `_id` order.
    func snapshot() async throws -> [String: [BSONDocument]] {
        var all: [String: [BSONDocument]] = [:]
        for name in Self.collections {
            all[name] = try await database.collection(name).find([:], options: FindOptions(sort: ["_id": 1])).toArray()
        }
        return all
    }

    /// The snapshot with `_id`s and data order removed, to compare two databases seeded alike.
    func contentSnapshot() async throws -> [String: [String]] {
        try await snapshot().mapValues { docs in
            docs.map { doc in
                var copy = doc
                copy["_id"] = nil
                return copy.extendedJSON(.canonical)
            }.sorted()
        }
    }

    func erase(_ subject: ErasureSubject = alice) async throws -> ErasureRequest {
        let request = try await runtime.engine.admission.submit(subject, source: .cli)
        return try await runtime.engine.eraser().run(request)
    }

    /// Records a request for each of `user-0`...`user-(users - 1)`, as inbox events.
    func queue(users: Int) async throws {
        for i in 0..<users {
            _ = try await runtime.engine.admission.receive(ErasureSubject(userId: "user-\(i)"), source: .inbox, dedupeKey: "k\(i)")
        }
    }

    func tearDown() async {
        try? await database.drop()
        try? await runtime.pool.database(database.name + "_state").drop()
        await runtime.shutdown()
    }
}

/// Documents that mention `needle` anywhere, by collection.
func mentions(_ needle: String, in snapshot: [String: [BSONDocument]]) -> [String: Int] {
    snapshot.mapValues { $0.filter { $0.extendedJSON(.canonical).contains(needle) }.count }.filter { $0.value > 0 }
}
