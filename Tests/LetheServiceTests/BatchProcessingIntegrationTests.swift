import BSON
import Foundation
@testable import LetheCore
import LetheService
import LetheTestSupport
import MongoKit
import Testing

@Suite("Backlogs erased together (integration)", .enabled(if: TestServer.isConfigured, TestServer.skipReason))
struct BatchProcessingIntegrationTests {
    static let users = [TodoFixture.alice, TodoFixture.bob]

    /// Each request of a batch counted what the same request counted alone, rule by rule.
    static func expectSameCounts(_ done: [ErasureRequest], as sequential: [[RuleProgress]],
                                 sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        #expect(done.count == sequential.count, sourceLocation: sourceLocation)
        for (batch, single) in zip(done, sequential) {
            #expect(batch.rules.map(\.deleted) == single.map(\.deleted), sourceLocation: sourceLocation)
            #expect(batch.rules.map(\.modified) == single.map(\.modified), sourceLocation: sourceLocation)
            #expect(batch.rules.map(\.retained) == single.map(\.retained), sourceLocation: sourceLocation)
        }
    }

    @Test("a batch leaves the same data and the same per-request counts as one request at a time")
    func batchEqualsSequential() async throws {
        try await TodoFixture.make().use { sequential in
            var sequentialRules: [[RuleProgress]] = []
            for user in Self.users {
                let done = try await sequential.erase(user)
                #expect(done.state == .done)
                sequentialRules.append(done.rules)
            }

            try await TodoFixture.make().use { batched in
                var received: [ErasureRequest] = []
                for user in Self.users { received.append(try await batched.runtime.engine.admission.submit(user, source: .cli)) }
                // The process's one probe of the server's `$in` (ArrayMatchProbe) is not the batch's.
                _ = await batched.runtime.data.inMatchesArrays()
                let before = batched.runtime.pool.monitor.snapshot()
                let done = try await batched.runtime.engine.eraser().run(received)
                let spent = batched.runtime.pool.monitor.snapshot().subtracting(before)

                #expect(done.allSatisfy { $0.state == .done }, "\(done.map(\.note))")
                #expect(try await batched.contentSnapshot() == sequential.contentSnapshot())
                Self.expectSameCounts(done, as: sequentialRules)
                for (batch, single) in zip(done, sequentialRules) {
                    #expect(batch.rules.map(\.retainedUntil) == single.map(\.retainedUntil))
                    #expect(batch.rules.allSatisfy { $0.stage == .verified })
                    #expect(batch.subject == nil)
                }
                let receipts = try await done.asyncMap { try await batched.runtime.state.receipt(requestId: $0.id) }
                #expect(receipts.allSatisfy { $0?.outcome == .completed })
                // One write per rule for the whole batch, whatever the number of users: the
                // two delete rules are two commands (the third removes the batch's checkpoint);
                // everything (reads, writes, bookkeeping) stays within a constant.
                #expect(spent.started("delete") == 3, "\(spent.byCommand)")
                #expect(spent.totalStarted <= 40, "\(spent.byCommand)")
            }
        }
    }

    @Test("commands per request fall as the batch grows")
    func commandsPerRequest() async throws {
        try await TodoFixture.make(yaml: QueueWorkerIntegrationTests.yaml).use { fixture in
            let users = 200
            try await fixture.database.collection("notes").insertMany((0..<users).map { ["owner": .string("user-\($0)")] })
            try await fixture.queue(users: users)
            let before = fixture.runtime.pool.monitor.snapshot()
            let summary = try await QueueWorker(engine: fixture.runtime.engine, options: .init(requestsPerBatch: 100)).drain()
            let spent = fixture.runtime.pool.monitor.snapshot().subtracting(before)
            #expect(summary.count(.done) == users)
            #expect(try await fixture.database.collection("notes").countDocuments() == 0)
            let perRequest = Double(spent.totalStarted) / Double(users)
            #expect(perRequest < 0.35, "commands per request: \(perRequest) (\(spent.byCommand))")
        }
    }

    @Test("a rule covering more than --batch-size documents is written in bounded writes, by groups of users, reading no ids but a big user's")
    func boundedWritesByGroupsOfUsers() async throws {
        let deletes = LockedList<Int>()
        let idReads = LockedList<Int>()
        let wrap: (any DataStore) -> any DataStore = { base in
            FaultyStore(base: base, beforeWrite: {}, afterDelete: { deletes.append($0) }, afterIds: { idReads.append($0) })
        }
        try await TodoFixture.make(yaml: QueueWorkerIntegrationTests.yaml, options: .init(batchSize: 5), wrap: wrap).use { fixture in
            // Six users with two notes each, one with seven: 19 documents, writes of at most 5.
            let owners = (0..<6).flatMap { Array(repeating: "user-\($0)", count: 2) } + Array(repeating: "user-big", count: 7)
            try await fixture.database.collection("notes").insertMany(owners.map { ["owner": .string($0)] })
            var received: [ErasureRequest] = []
            for user in (0..<6).map({ "user-\($0)" }) + ["user-big"] {
                received.append(try await fixture.runtime.engine.admission.submit(ErasureSubject(userId: user), source: .cli))
            }
            let done = try await fixture.runtime.engine.eraser().run(received)
            #expect(done.allSatisfy { $0.state == .done }, "\(done.map(\.note))")
            #expect(done.map { $0.rules[0].deleted } == [2, 2, 2, 2, 2, 2, 7])
            #expect(try await fixture.database.collection("notes").countDocuments() == 0)
            // Three groups of two users (4 each), then the big user alone in writes of 5 and 2.
            #expect(deletes.values == [4, 4, 4, 5, 2])
            // Reads of `_id`s up to a write's size pick documents; the rest are verification.
            #expect(idReads.values.filter { $0 == 5 }.count == 2, "only the big user's documents are picked by _id: \(idReads.values)")
        }
    }

    @Test("a checkpoint saved rule by rule reads back whole; saved again, or a rule recorded again, holds each rule once with its last counts")
    func checkpointRuleByRule() async throws {
        try await TodoFixture.make().use { fixture in
            let state = fixture.runtime.state
            var requests = ["a", "b"].map { user in
                ErasureRequest(id: "req_" + user, subjectPseudonym: "subj_" + user, subject: ErasureSubject(userId: user), source: .cli,
                               reason: nil, receivedAt: Date(), dueAt: nil, policies: [])
            }
            for index in requests.indices { requests[index].rules = (0..<3).map { RuleProgress(policy: "p", ruleIndex: $0, namespace: "d.c", action: .delete) } }
            var checkpoint = BatchCheckpoint(requestIds: requests.map(\.id), startedAt: Date(timeIntervalSince1970: 1_700_000_000))
            for rule in 0..<3 {
                for index in requests.indices { requests[index].rules[rule].deleted = 10 * rule + index }
                checkpoint.record(rule: rule, of: requests)
                try await state.saveCheckpoint(checkpoint)
                #expect(try await state.checkpoints(requestIds: ["req_b"]) == [checkpoint], "after rule \(rule)")
            }
            try await state.saveCheckpoint(checkpoint)  // a retried save: nothing doubles
            requests[0].rules[1].deleted = 99           // a rule recorded again, out of step
            checkpoint.record(rule: 1, of: requests)
            try await state.saveCheckpoint(checkpoint)
            checkpoint.applied.sort { $0.rule < $1.rule }
            #expect(try await state.checkpoints(requestIds: ["req_a"]) == [checkpoint])
            #expect(checkpoint.applied.map(\.rule) == [0, 1, 2])
            #expect(checkpoint.applied[1].counts[0]?.deleted == 99)
        }
    }

    @Test("in a batch, a held user waits and an over-limit request needs approval; the others finish")
    func mixedBatch() async throws {
        try await TodoFixture.make(options: .init(maxDocumentsPerRequest: 9)).use { fixture in
            let state = fixture.runtime.state
            let carol = ErasureSubject(userId: "carol-0003")
            try await fixture.database.collection("Item").insertOne(["owner_id": "carol-0003"])
            try await state.addHold(LegalHold(
                id: "hold_b", subjectPseudonym: SubjectPseudonymizer(key: try await state.subjectKey()).pseudonym(for: TodoFixture.bob),
                reason: "case", createdAt: Date()
            ))
            var received: [ErasureRequest] = []
            for user in [TodoFixture.alice, TodoFixture.bob, carol] { received.append(try await fixture.runtime.engine.admission.submit(user, source: .cli)) }
            let done = try await fixture.runtime.engine.eraser().run(received)
            #expect(done.map(\.state) == [.needsApproval, .held, .done])
            #expect(try await fixture.database.collection("Item").countDocuments(["owner_id": "alice-0001"]) == 3)
            #expect(try await fixture.database.collection("Item").countDocuments(["owner_id": "carol-0003"]) == 0)
        }
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}

/// Values appended from concurrent closures, read back in order.
final class LockedList<Value: Sendable>: @unchecked Sendable {
    // @unchecked: guarded by the lock.
    private let lock = NSLock()
    private var items: [Value] = []
    func append(_ value: Value) { lock.withLock { items.append(value) } }
    func append(contentsOf more: [Value]) { lock.withLock { items += more } }
    var values: [Value] { lock.withLock { items } }
}

@Suite("Verification fails closed (integration)", .enabled(if: TestServer.isConfigured, TestServer.skipReason))
struct VerificationIntegrationTests {
    static let yaml = """
        version: 1
        name: likes
        database: DATABASE
        subject: { idType: objectId }
        rules:
          - { collection: posts, match: likes, action: pull }
        """

    @Test("ObjectIds pulled from arrays, two users in a batch: either every id is gone and the receipts say so, or the requests fail with the count; never 'verified' with ids left")
    func objectIdsInArrays() async throws {
        try await TodoFixture.make(yaml: Self.yaml).use { fixture in
            let (alice, bob, carol) = (BSONObjectId(), BSONObjectId(), BSONObjectId())
            let posts = fixture.database.collection("posts")
            try await posts.insertMany([
                ["_id": 1, "likes": [.objectId(alice), .objectId(carol)]],
                ["_id": 2, "likes": [.objectId(bob)]],
                ["_id": 3, "likes": [.objectId(carol)]],
            ])
            let engine = fixture.runtime.engine
            let requests = [try await engine.admission.submit(ErasureSubject(userId: alice.hex), source: .cli),
                            try await engine.admission.submit(ErasureSubject(userId: bob.hex), source: .cli)]
            let done = try await engine.eraser().run(requests)
            let left = try await posts.find().toArray().flatMap { $0["likes"]?.arrayValue ?? [] }
            for (request, user) in zip(done, [alice, bob]) {
                let stillThere = left.contains(.objectId(user))
                #expect(request.state == (stillThere ? .failed : .done), "\(request.note ?? "")")
                #expect(request.rules[0].verification == (stillThere ? .failed : .passed))
                if stillThere { #expect((request.rules[0].remaining ?? 0) > 0 && request.rules[0].modified == 0) }
            }
            #expect(left.filter { $0 == .objectId(carol) }.count == 2, "carol's likes stay")
        }
    }

    static let chat = """
        version: 1
        name: chat
        database: DATABASE
        rules:
          - { collection: threads, match: participants.userId, action: pull }
        """

    @Test("a pull through an array of documents removes the user's elements on MongoDB; where the server cannot, the request fails with the count, never 'verified'")
    func arrayOfDocuments() async throws {
        try await TodoFixture.make(yaml: Self.chat).use { fixture in
            let threads = fixture.database.collection("threads")
            try await threads.insertMany([
                ["_id": 1, "participants": [["userId": "alice", "role": "owner"], ["userId": "bob"]]],
                ["_id": 2, "participants": [["userId": "carol"]]],
            ])
            let request = try await fixture.runtime.engine.eraser().run(
                try await fixture.runtime.engine.admission.submit(ErasureSubject(userId: "alice"), source: .cli))
            let left = try await threads.find(["_id": 1]).toArray().first?["participants"]
            let gone = left == [["userId": "bob"]]
            #expect(request.state == (gone ? .done : .failed), "\(request.note ?? "")")
            if !gone { #expect(request.rules[0].remaining == 1) }
            KnownDeviation.elemMatchOnDocumentsMatchesNothing.expectOnMongoDB { #expect(gone) }
            #expect(try await threads.find(["_id": 2]).toArray().first?["participants"] == [["userId": "carol"]])
        }
    }
}
