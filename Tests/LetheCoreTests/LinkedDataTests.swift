import BSON
import Foundation
@testable import LetheCore
import LetheCoreTestSupport
import Testing

/// Lookups and identifiers on data made in the published shapes of MongoDB's sample
/// data sets: `sample_analytics` (a customer's `accounts` array lists account numbers;
/// `accounts` and `transactions` hold `account_id`) and `sample_mflix` (`comments` and
/// `sessions` link to users by email).
@Suite("Linked data: lookups and identifiers (in memory)")
struct LinkedDataTests {
    // MARK: sample_analytics

    static let analyticsYAML = SamplePolicies.analytics.replacingOccurrences(of: "DATABASE", with: "sample_analytics")

    static let customers = Namespace(database: "sample_analytics", collection: "customers")
    static let accounts = Namespace(database: "sample_analytics", collection: "accounts")
    static let transactions = Namespace(database: "sample_analytics", collection: "transactions")
    static let ada = BSONObjectId("5ca4bbcea2dd94ee58162a68")!
    static let grace = BSONObjectId("5ca4bbcea2dd94ee58162a69")!

    struct Analytics {
        let data = InMemoryDataStore()
        let state = InMemoryStateStore()
        let engine: ErasureEngine

        init(maxLookupValues: Int? = nil) async throws {
            var yaml = LinkedDataTests.analyticsYAML
            if let maxLookupValues { yaml = yaml.replacingOccurrences(of: "lookups:", with: "maxLookupValues: \(maxLookupValues)\nlookups:") }
            let loaded = PolicyLoader.load(yaml: yaml, file: "analytics.yaml", options: .init(hashKeyConfigured: false))
            let policy = try #require(loaded.policies.first, "\(loaded.diagnostics)")
            engine = ErasureEngine(data: data, state: state, policies: [policy], anonymizer: nil)
            // Account numbers are int32 in sample_analytics; Ada's 371138 is also an
            // account number of nobody else, Grace's 443178 must never be touched.
            await data.insert([
                ["_id": .objectId(LinkedDataTests.ada), "username": "ada", "accounts": [.int32(371138), .int32(324287)]],
                ["_id": .objectId(LinkedDataTests.grace), "username": "grace", "accounts": [.int32(443178)]],
            ], into: LinkedDataTests.customers)
            await data.insert([
                ["_id": .objectId(BSONObjectId()), "account_id": .int32(371138), "limit": .int32(9000)],
                ["_id": .objectId(BSONObjectId()), "account_id": .int32(324287), "limit": .int32(10000)],
                ["_id": .objectId(BSONObjectId()), "account_id": .int32(443178), "limit": .int32(10000)],
                // The same number as a string is another value: values keep their BSON type.
                ["_id": .objectId(BSONObjectId()), "account_id": "371138", "limit": .int32(1)],
            ], into: LinkedDataTests.accounts)
            await data.insert([
                ["_id": .objectId(BSONObjectId()), "account_id": .int32(371138), "transaction_count": .int32(3)],
                ["_id": .objectId(BSONObjectId()), "account_id": .int32(443178), "transaction_count": .int32(5)],
            ], into: LinkedDataTests.transactions)
        }

        func accountIds() async -> [BSON] { await data.all(LinkedDataTests.accounts).compactMap { $0["account_id"] } }
    }

    @Test("a customer's accounts are deleted through the lookup, transactions retained, nobody else's touched")
    func analyticsLookup() async throws {
        let fixture = try await Analytics()
        let request = try await fixture.engine.admission.submit(ErasureSubject(userId: Self.ada.hex), source: .cli)
        let done = try await fixture.engine.eraser().run(request)
        #expect(done.state == .done, "\(done.note ?? "")")
        #expect(await fixture.accountIds() == [.int32(443178), .string("371138")])
        #expect(await fixture.data.all(Self.customers).map { $0["username"] } == ["grace"])
        #expect(await fixture.data.all(Self.transactions).count == 2)
        #expect(done.rules.map(\.deleted) == [1, 2, 0])
        #expect(done.rules[2].retained == 1)
        #expect(done.rules.allSatisfy { $0.stage == .verified })
        #expect(done.subject == nil, "the ids and the lookup values go with the request")
        let receipt = try #require(try await fixture.state.receipt(requestId: request.id))
        #expect(receipt.lookups == [Receipt.Lookup(policy: "analytics", lookup: "accounts", values: 2)])
        #expect(receipt.text.contains("lookups           analytics.accounts: 2 value(s)"))
        #expect(!(try receipt.json()).contains("371138"), "counted, never listed")
    }

    @Test("a crash after the customer document is deleted: the rerun matches the kept values and finishes with the same data")
    func analyticsCrashAfterSourceDeleted() async throws {
        let fixture = try await Analytics()
        let request = try await fixture.engine.admission.submit(ErasureSubject(userId: Self.ada.hex), source: .cli)
        let worker = LeaseTerms(owner: "w1", duration: .seconds(600))
        let claimed = try await fixture.state.claimBatch(worker.lease(at: Date()), limit: 1, excluding: [], now: Date())
        await fixture.state.setCrash(afterCheckpoints: 1)
        await #expect(throws: LeaseLost.self) { try await fixture.engine.eraser(lease: worker).run(claimed) }
        await fixture.state.setCrash(afterCheckpoints: nil)
        #expect(await fixture.data.all(Self.customers).count == 1, "the customer, the lookup's source, is gone")
        #expect(await fixture.accountIds().count == 4, "the accounts are not deleted yet")
        let stored = try #require(try await fixture.state.request(id: request.id))
        #expect(stored.subject?.lookupValues(policy: "analytics", lookup: "accounts") == [.int32(371138), .int32(324287)])
        let done = try await fixture.engine.eraser().run(stored)
        #expect(done.state == .done, "\(done.note ?? "")")
        #expect(await fixture.accountIds() == [.int32(443178), .string("371138")])
        #expect(done.rules.map(\.deleted) == [1, 2, 0])
        #expect(done.subject == nil)
    }

    @Test("a lookup over maxLookupValues sends the request to needs-approval before anything changes")
    func lookupBound() async throws {
        let fixture = try await Analytics(maxLookupValues: 1)
        let request = try await fixture.engine.admission.submit(ErasureSubject(userId: Self.ada.hex), source: .cli)
        let held = try await fixture.engine.eraser().run(request)
        #expect(held.state == .needsApproval)
        #expect(held.note?.contains("lookup 'accounts'") == true)
        #expect(held.note?.contains("371138") == false)
        #expect(held.subject?.lookups == nil, "values are read again when it runs")
        #expect(await fixture.data.all(Self.customers).count == 2)
        #expect(await fixture.accountIds().count == 4)
    }

    @Test("plan counts each lookup's values, never lists them")
    func planCounts() async throws {
        let fixture = try await Analytics()
        let dryRun = try await fixture.engine.dryRun(ErasureSubject(userId: Self.ada.hex))
        #expect(dryRun.lookups == [PlannedLookup(policy: "analytics", lookup: "accounts", values: 2)])
        #expect(dryRun.rules.map(\.toChange) == [1, 2, 0])
        #expect(dryRun.rules[2].matched == 1)
    }

    @Test("values a user could plant in the lookup's source never widen: a stored regex and an operator-shaped sub-document are not values")
    func plantedValues() async throws {
        let fixture = try await Analytics()
        // Ada's customer document, as her client could have written it.
        await fixture.data.restore(await fixture.data.snapshot().mapValues { documents in
            documents.map { document in
                guard document["_id"] == .objectId(Self.ada) else { return document }
                var planted = document
                planted["accounts"] = [.int32(371138), .int32(324287), .regex(BSONRegularExpression(pattern: ".*")), ["$ne": .null]]
                return planted
            }
        })
        let dryRun = try await fixture.engine.dryRun(ErasureSubject(userId: Self.ada.hex))
        #expect(dryRun.lookups == [PlannedLookup(policy: "analytics", lookup: "accounts", values: 2)])
        let request = try await fixture.engine.admission.submit(ErasureSubject(userId: Self.ada.hex), source: .cli)
        let done = try await fixture.engine.eraser().run(request)
        #expect(done.state == .done, "\(done.note ?? "")")
        #expect(await fixture.accountIds() == [.int32(443178), .string("371138")], "Grace's account and the string one stay")
    }

    // MARK: sample_mflix

    static let mflixYAML = """
        version: 1
        name: mflix
        database: sample_mflix
        subject: { idType: objectId, identifiers: [email] }
        lookups:
          userId: { collection: users, match: email, using: email, field: _id }
        rules:
          - collection: comments
            match: email
            using: email
            action: anonymize
            set: { name: Deleted user }
            unset: [email]
          - { collection: sessions, match: user_id, using: email, action: delete }
          - { collection: users, match: _id, using: [user, userId], action: delete }
        """

    static let users = Namespace(database: "sample_mflix", collection: "users")
    static let comments = Namespace(database: "sample_mflix", collection: "comments")
    static let sessions = Namespace(database: "sample_mflix", collection: "sessions")
    static let ned = BSONObjectId("59b99db4cfa9a34dcd7885b6")!

    struct Mflix {
        let data = InMemoryDataStore()
        let state = InMemoryStateStore()
        let engine: ErasureEngine

        init() async throws {
            let loaded = PolicyLoader.load(yaml: LinkedDataTests.mflixYAML, file: "mflix.yaml", options: .init(hashKeyConfigured: false))
            let policy = try #require(loaded.policies.first, "\(loaded.diagnostics)")
            engine = ErasureEngine(data: data, state: state, policies: [policy], anonymizer: nil)
            await data.insert([
                ["_id": .objectId(LinkedDataTests.ned), "name": "Ned Stark", "email": "sean_bean@gameofthron.es"],
                ["_id": .objectId(BSONObjectId()), "name": "Robert Baratheon", "email": "mark_addy@gameofthron.es"],
            ], into: LinkedDataTests.users)
            await data.insert([
                ["_id": .objectId(BSONObjectId()), "name": "Ned Stark", "email": "sean_bean@gameofthron.es", "movie_id": .objectId(BSONObjectId()), "text": "Winter"],
                ["_id": .objectId(BSONObjectId()), "name": "Robert Baratheon", "email": "mark_addy@gameofthron.es", "movie_id": .objectId(BSONObjectId()), "text": "Ours"],
            ], into: LinkedDataTests.comments)
            await data.insert([
                ["_id": .objectId(BSONObjectId()), "user_id": "sean_bean@gameofthron.es", "jwt": "a"],
                ["_id": .objectId(BSONObjectId()), "user_id": "mark_addy@gameofthron.es", "jwt": "b"],
            ], into: LinkedDataTests.sessions)
        }

        func others() async -> [BSONDocument] {
            var kept: [BSONDocument] = []
            for namespace in [LinkedDataTests.users, LinkedDataTests.comments, LinkedDataTests.sessions] {
                kept += await data.all(namespace).filter { $0.values.contains("mark_addy@gameofthron.es") }
            }
            return kept
        }
    }

    @Test("a request known only by email: comments anonymized, sessions deleted, the user found by the lookup; nobody else touched")
    func mflixByEmail() async throws {
        let fixture = try await Mflix()
        let othersBefore = await fixture.others()
        let subject = ErasureSubject(userId: nil, identifiers: ["email": "sean_bean@gameofthron.es"])
        let request = try await fixture.engine.admission.submit(subject, source: .cli)
        #expect(request.subject?.identifiers == ["email": "sean_bean@gameofthron.es"])
        let done = try await fixture.engine.eraser().run(request)
        #expect(done.state == .done, "\(done.note ?? "")")
        #expect(done.rules.map(\.modified) == [1, 0, 0])
        #expect(done.rules.map(\.deleted) == [0, 1, 1])
        let comment = try #require(await fixture.data.all(Self.comments).first { $0["text"] == "Winter" })
        #expect(comment["name"] == "Deleted user")
        #expect(comment["email"] == nil)
        #expect(await fixture.data.all(Self.users).count == 1)
        #expect(await fixture.others() == othersBefore)
        #expect(done.subject == nil, "the email goes with the request")
        let audit = await fixture.state.auditTrail(requestId: request.id)
        #expect(!audit.contains { "\($0)".contains("sean_bean") })
    }

    @Test("identifiers a policy does not declare are refused before anything is recorded")
    func undeclaredIdentifier() async throws {
        let fixture = try await Mflix()
        await #expect(throws: EngineError.self) {
            try await fixture.engine.admission.submit(ErasureSubject(userId: nil, identifiers: ["phone": "5550100"]), source: .cli)
        }
        do {
            _ = try await fixture.engine.admission.submit(ErasureSubject(userId: nil, identifiers: ["phone": "5550100"]), source: .cli)
        } catch {
            #expect("\(error)".contains("identifier 'phone' is not declared"))
            #expect(!"\(error)".contains("5550100"))
        }
        await #expect(throws: EngineError.self) {
            try await fixture.engine.admission.submit(ErasureSubject(userId: nil, identifiers: ["email": "a b@example.com"]), source: .cli)
        }
        await #expect(throws: EngineError.self) {
            try await fixture.engine.admission.submit(ErasureSubject(userId: nil), source: .cli)
        }
        #expect(await fixture.state.requests.isEmpty)
    }

    // MARK: A chained lookup

    static let blogYAML = """
        version: 1
        name: blog
        database: blog
        subject: { idType: string, identifiers: [email] }
        lookups:
          posts: { collection: posts, match: authorId, using: [user, account], field: _id }
          account: { collection: users, match: email, using: email, field: _id }
        rules:
          - { collection: comments, match: post_id, using: posts, action: delete }
          - { collection: posts, match: authorId, using: [user, account], action: delete }
        """

    @Test("a chained lookup: comments on the user's posts, the user known by email; lookups run in dependency order")
    func chained() async throws {
        let loaded = PolicyLoader.load(yaml: Self.blogYAML, file: "blog.yaml", options: .init(hashKeyConfigured: false))
        let policy = try #require(loaded.policies.first, "\(loaded.diagnostics)")
        #expect(policy.lookups.map(\.name) == ["account", "posts"])
        let data = InMemoryDataStore()
        let engine = ErasureEngine(data: data, state: InMemoryStateStore(), policies: [policy], anonymizer: nil)
        let users = Namespace(database: "blog", collection: "users")
        let posts = Namespace(database: "blog", collection: "posts")
        let comments = Namespace(database: "blog", collection: "comments")
        await data.insert([["_id": "u1", "email": "ada@example.com"], ["_id": "u2", "email": "bob@example.com"]], into: users)
        await data.insert([["_id": .int64(10), "authorId": "u1"], ["_id": .int64(11), "authorId": "u2"]], into: posts)
        await data.insert([
            ["_id": 1, "post_id": .int64(10), "author": "u2"],
            ["_id": 2, "post_id": .int64(11), "author": "u1"],
            ["_id": 3, "post_id": .int32(10), "author": "u2"],  // another type: not the post
        ], into: comments)
        let request = try await engine.admission.submit(ErasureSubject(userId: nil, identifiers: ["email": "ada@example.com"]), source: .cli)
        let done = try await engine.eraser().run(request)
        #expect(done.state == .done, "\(done.note ?? "")")
        #expect(await data.all(comments).map { $0["_id"] } == [2, 3])
        #expect(await data.all(posts).map { $0["_id"] } == [.int64(11)])
        #expect(await data.all(users).count == 2)
    }

    @Test("a batch of two: one read per lookup for both, each request its own values")
    func batchReadsOnce() async throws {
        let fixture = try await Analytics()
        let requests = [
            try await fixture.engine.admission.submit(ErasureSubject(userId: Self.ada.hex), source: .cli),
            try await fixture.engine.admission.submit(ErasureSubject(userId: Self.grace.hex), source: .cli),
        ]
        let done = try await fixture.engine.eraser().run(requests)
        #expect(done.map(\.state) == [.done, .done])
        #expect(done.map { $0.rules[1].deleted } == [2, 1])
        #expect(done.map { $0.rules[2].retained } == [1, 1])
        #expect(await fixture.accountIds() == [.string("371138")])
        #expect(await fixture.data.streamedReads[Self.customers] == 1, "one read of the lookup's collection for both requests")
    }
}

/// Match paths through arrays of documents: only the user's elements change.
@Suite("Array elements: anonymize only the user's (in memory)")
struct ElementAnonymizeTests {
    static let yaml = """
        version: 1
        name: forum
        database: forum
        subject: { idType: string }
        rules:
          - { collection: threads, match: participants.userId, action: pull }
          - collection: posts
            match: replies.user._id
            action: anonymize
            set: { replies.user.name: Deleted user }
            unset: [replies.user.email]
        """
    static let threads = Namespace(database: "forum", collection: "threads")
    static let posts = Namespace(database: "forum", collection: "posts")

    static func fixture(_ faults: InMemoryDataStore.Faults = .init()) async throws -> (InMemoryDataStore, ErasureEngine) {
        let loaded = PolicyLoader.load(yaml: yaml, file: "forum.yaml", options: .init(hashKeyConfigured: false))
        let policy = try #require(loaded.policies.first, "\(loaded.diagnostics)")
        let data = InMemoryDataStore()
        await data.imitate(faults)
        await data.insert([
            ["_id": 1, "participants": [["userId": "u1", "role": "owner"], ["userId": "u2", "role": "guest"]]],
        ], into: threads)
        await data.insert([
            ["_id": 1, "replies": [
                ["user": ["_id": "u1", "name": "Ada", "email": "ada@example.com"], "text": "first"],
                ["user": ["_id": "u2", "name": "Bob", "email": "bob@example.com"], "text": "second"],
                ["user": ["_id": "u1", "name": "Ada", "email": "ada@example.com"], "text": "third"],
            ]],
            // The same path where `replies` is one sub-document, not an array.
            ["_id": 2, "replies": ["user": ["_id": "u1", "name": "Ada", "email": "ada@example.com"], "text": "only"]],
            ["_id": 3, "replies": [["user": ["_id": "u2", "name": "Deleted user"], "text": "bob's"]]],
        ], into: posts)
        return (data, ErasureEngine(data: data, state: InMemoryStateStore(), policies: [policy], anonymizer: nil))
    }

    @Test("anonymize changes only the user's elements (arrayFilters); pull removes only the user's elements; both verified")
    func onlyTheUsersElements() async throws {
        let (data, engine) = try await Self.fixture()
        let request = try await engine.admission.submit(ErasureSubject(userId: "u1"), source: .cli)
        let done = try await engine.eraser().run(request)
        #expect(done.state == .done, "\(done.note ?? "")")
        #expect(done.rules.map(\.stage) == [.verified, .verified])
        #expect(await data.all(Self.threads)[0]["participants"] == [["userId": "u2", "role": "guest"]])
        let posts = await data.all(Self.posts)
        #expect(posts[0]["replies"] == [
            ["user": ["_id": "u1", "name": "Deleted user"], "text": "first"],
            ["user": ["_id": "u2", "name": "Bob", "email": "bob@example.com"], "text": "second"],
            ["user": ["_id": "u1", "name": "Deleted user"], "text": "third"],
        ])
        #expect(posts[1]["replies"] == ["user": ["_id": "u1", "name": "Deleted user"], "text": "only"])
        #expect(posts[2]["replies"] == [["user": ["_id": "u2", "name": "Deleted user"], "text": "bob's"]])
    }

    @Test("a store that accepts arrayFilters and changes nothing (as nx-27017) fails the rule with its count, never verified")
    func failsClosed() async throws {
        var faults = InMemoryDataStore.Faults()
        faults.ignoresArrayFilters = true
        let (data, engine) = try await Self.fixture(faults)
        let request = try await engine.admission.submit(ErasureSubject(userId: "u1"), source: .cli)
        let done = try await engine.eraser().run(request)
        #expect(done.state == .failed)
        #expect(done.rules[1].stage == .verificationFailed)
        #expect(done.rules[1].remaining == 1)
        #expect(await data.all(Self.posts)[0]["replies"]?.arrayValue?[0].documentValue?["user"]?.documentValue?["name"] == "Ada")
    }

    @Test("the element writes: a filtered positional $set per array the path may run through, then the plain shape")
    func statementShape() throws {
        let loaded = PolicyLoader.load(yaml: Self.yaml, file: "forum.yaml", options: .init(hashKeyConfigured: false))
        let policy = try #require(loaded.policies.first)
        let statement = RuleStatement(policy: policy, rule: policy.rules[1], ids: ["u1"], token: nil)
        guard case .elements(let writes) = statement.write else { Issue.record("not an element write"); return }
        #expect(writes.count == 3)
        #expect(writes[0].update == ["$set": ["replies.$[lethe].user.name": "Deleted user"], "$unset": ["replies.$[lethe].user.email": ""]])
        #expect(writes[0].arrayFilters == [["lethe.user._id": ["$in": ["u1"]]]])
        #expect(writes[0].filter == ["replies.user._id": ["$in": ["u1"]], "replies": ["$type": "array"]])
        #expect(writes[1].update == ["$set": ["replies.user.$[lethe].name": "Deleted user"], "$unset": ["replies.user.$[lethe].email": ""]])
        #expect(writes[2].arrayFilters.isEmpty)
    }
}
