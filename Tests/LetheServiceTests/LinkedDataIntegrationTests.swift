import BSON
import Foundation
import LetheCore
import LetheService
import LetheCoreTestSupport
import LetheTestSupport
import MongoKit
import Testing

/// Lookups, identifiers and array elements against the test server, on data made in the
/// published shapes of `sample_analytics` and `sample_mflix`, with the MongoDB state
/// store (the lookup values go through its encoding).
@Suite("Linked data (integration)", .enabled(if: TestServer.isConfigured, TestServer.skipReason))
struct LinkedDataIntegrationTests {
    /// A runtime over a fresh database for `yaml` (DATABASE replaced), optionally with
    /// the data store wrapped.
    struct Fixture: TearsDown {
        let runtime: LetheRuntime
        let database: MongoDatabase

        static func make(_ yaml: String, wrap: ((any DataStore) -> any DataStore)? = nil) async throws -> Fixture {
            let name = TestServer.uniqueDatabaseName("linked")
            let loaded = PolicyLoader.load(yaml: yaml.replacingOccurrences(of: "DATABASE", with: name), file: "linked.yaml",
                                           options: .init(hashKeyConfigured: true))
            let policy = try #require(loaded.policies.first, "\(loaded.diagnostics)")
            let configuration = LetheConfiguration(
                connectionString: try ConnectionString(TestServer.uri!), policies: [policy], stateDatabase: name + "_state",
                hashKey: testHashKey, subjectKey: testSubjectKey)
            var runtime = try await LetheRuntime.start(configuration)
            if let wrap {
                runtime = LetheRuntime(pool: runtime.pool, data: runtime.data, state: runtime.state, engine: ErasureEngine(
                    data: wrap(runtime.data), state: runtime.state, policies: [policy], anonymizer: Anonymizer(key: testHashKey)))
            }
            return Fixture(runtime: runtime, database: runtime.pool.database(name))
        }

        func all(_ collection: String) async throws -> [BSONDocument] {
            try await database.collection(collection).find([:], options: FindOptions(sort: ["_id": 1])).toArray()
        }

        func tearDown() async {
            try? await database.drop()
            try? await runtime.pool.database(database.name + "_state").drop()
            await runtime.shutdown()
        }
    }

    static let analytics = SamplePolicies.analytics

    @Test("sample_analytics: a worker dies after the customer (the lookup's source) is deleted; the rerun finishes with the same data")
    func analyticsCrash() async throws {
        let ada = BSONObjectId()
        let grace = BSONObjectId()
        let writes = WriteCounter()
        // Dies (as with kill -9: nothing recorded) at the second write: the customer is gone.
        try await Fixture.make(Self.analytics, wrap: { FaultyStore(base: $0, beforeWrite: { if writes.next() == 2 { throw LeaseLost(requestId: "killed") } }) }).use { fixture in
            try await fixture.database.collection("customers").insertMany([
                ["_id": .objectId(ada), "username": "ada", "accounts": [.int32(371138), .int32(324287)]],
                ["_id": .objectId(grace), "username": "grace", "accounts": [.int32(443178)]],
            ])
            try await fixture.database.collection("accounts").insertMany([
                ["account_id": .int32(371138), "limit": .int32(9000)],
                ["account_id": .int32(324287), "limit": .int32(10000)],
                ["account_id": .int32(443178), "limit": .int32(10000)],
                ["account_id": "371138", "limit": .int32(1)],
            ])
            try await fixture.database.collection("transactions").insertMany([
                ["account_id": .int32(371138), "transaction_count": .int32(3)],
                ["account_id": .int32(443178), "transaction_count": .int32(5)],
            ])
            let engine = fixture.runtime.engine
            let request = try await engine.admission.submit(ErasureSubject(userId: ada.hex), source: .cli)
            await #expect(throws: LeaseLost.self) { try await engine.eraser().run(request) }
            #expect(try await fixture.all("customers").map { $0["username"] } == ["grace"])
            #expect(try await fixture.all("accounts").count == 4)

            let stored = try #require(try await fixture.runtime.state.request(id: request.id))
            #expect(stored.subject?.lookupValues(policy: "analytics", lookup: "accounts") == [.int32(371138), .int32(324287)])
            let done = try await engine.eraser().run(stored)
            #expect(done.state == .done, "\(done.note ?? "")")
            #expect(try await fixture.all("accounts").map { $0["account_id"] } == [.int32(443178), "371138"])
            #expect(try await fixture.all("transactions").count == 2)
            let after = try #require(try await fixture.runtime.state.request(id: request.id))
            #expect(after.subject == nil, "the ids and lookup values are gone with the request")
        }
    }

    static let mflix = """
        version: 1
        name: mflix
        database: DATABASE
        subject: { idType: objectId, identifiers: [email] }
        lookups:
          userId: { collection: users, match: email, using: email, field: _id }
        rules:
          - { collection: comments, match: email, using: email, action: anonymize, set: { name: Deleted user }, unset: [email] }
          - { collection: sessions, match: user_id, using: email, action: delete }
          - { collection: users, match: _id, using: [user, userId], action: delete }
          - collection: posts
            match: replies.user._id
            using: [user, userId]
            action: anonymize
            set: { replies.user.name: Deleted user }
        """

    @Test("sample_mflix: a request known only by email; comments anonymized, sessions and the user deleted, nobody else touched; elements fail closed where arrayFilters do nothing")
    func mflixByEmail() async throws {
        try await Fixture.make(Self.mflix).use { fixture in
            let ned = BSONObjectId()
            let robert = BSONObjectId()
            try await fixture.database.collection("users").insertMany([
                ["_id": .objectId(ned), "name": "Ned Stark", "email": "sean_bean@gameofthron.es"],
                ["_id": .objectId(robert), "name": "Robert Baratheon", "email": "mark_addy@gameofthron.es"],
            ])
            try await fixture.database.collection("comments").insertMany([
                ["name": "Ned Stark", "email": "sean_bean@gameofthron.es", "text": "Winter"],
                ["name": "Robert Baratheon", "email": "mark_addy@gameofthron.es", "text": "Ours"],
            ])
            try await fixture.database.collection("sessions").insertMany([
                ["user_id": "sean_bean@gameofthron.es", "jwt": "a"],
                ["user_id": "mark_addy@gameofthron.es", "jwt": "b"],
            ])
            try await fixture.database.collection("posts").insertMany([
                ["replies": [["user": ["_id": .objectId(ned), "name": "Ned"]], ["user": ["_id": .objectId(robert), "name": "Robert"]]]],
            ])
            let engine = fixture.runtime.engine
            let subject = ErasureSubject(userId: nil, identifiers: ["email": "sean_bean@gameofthron.es"])
            let done = try await engine.eraser().run(try await engine.admission.submit(subject, source: .cli))

            #expect(try await fixture.all("comments").map { $0["name"] } == ["Deleted user", "Robert Baratheon"])
            #expect(try await fixture.all("comments")[0]["email"] == nil)
            #expect(try await fixture.all("sessions").map { $0["jwt"] } == ["b"])
            #expect(try await fixture.all("users").map { $0["_id"] } == [.objectId(robert)])
            #expect(Array(done.rules.prefix(3)).allSatisfy { $0.stage == .verified })

            let replies = try await fixture.all("posts")[0]["replies"]?.arrayValue ?? []
            let names = replies.map { $0.documentValue?["user"]?.documentValue?["name"] }
            #expect(names[1] == "Robert", "another person's element never changes")
            if names[0] != "Deleted user" {
                // The write missed: never "verified", the request fails with the count.
                #expect(done.state == .failed)
                #expect(done.rules[3].stage == .verificationFailed)
                #expect(done.rules[3].remaining == 1)
            }
            KnownDeviation.arrayFiltersIgnored.expectOnMongoDB {
                #expect(names[0] == "Deleted user")
                #expect(done.state == .done, "\(done.note ?? "")")
            }
        }
    }
}

/// Counts writes across the concurrent closure of a wrapped store.
final class WriteCounter: @unchecked Sendable {
    // @unchecked: guarded by the lock.
    private let lock = NSLock()
    private var count = 0
    func next() -> Int { lock.withLock { count += 1; return count } }
}
