import BSON
import Foundation
import LetheCore
import LetheService
import LetheTestSupport
import MongoKit
import Testing

@Suite("Request queue: dedupe, leases, several workers (integration)", .enabled(if: TestServer.isConfigured, TestServer.skipReason))
struct QueueWorkerIntegrationTests {
    static let yaml = """
    version: 1
    name: q
    database: DATABASE
    subject: { idType: string }
    rules:
      - collection: notes
        match: owner
        action: delete
    """

    static func fixture(users: Int) async throws -> TodoFixture {
        let fixture = try await TodoFixture.make(yaml: yaml)
        try await fixture.database.collection("notes").insertMany((0..<users).flatMap { i in
            [["owner": .string("user-\(i)")], ["owner": .string("user-\(i)")]] as [BSONDocument]
        } + [["owner": "survivor"]])
        return fixture
    }

    /// Another runtime (own pool) on the fixture's databases: a second worker process.
    static func runtime(like fixture: TodoFixture) async throws -> LetheRuntime {
        try await LetheRuntime.start(LetheConfiguration(
            connectionString: try ConnectionString(TestServer.uri!), policies: [fixture.policy],
            stateDatabase: fixture.database.name + "_state", hashKey: testHashKey, subjectKey: testSubjectKey
        ))
    }

    @Test("the same event twice is one request, even when received concurrently")
    func dedupe() async throws {
        try await Self.fixture(users: 1).use { fixture in
            let engine = fixture.runtime.engine
            let subject = ErasureSubject(userId: "user-0")
            let results = try await withThrowingTaskGroup(of: RequestAdmission.Admitted.self) { group in
                for _ in 0..<4 { group.addTask { try await engine.admission.receive(subject, source: .inbox, dedupeKey: "ce:event-1") } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(results.map(\.request.id)).count == 1)
            #expect(results.filter(\.isNew).count == 1)
            #expect(try await fixture.runtime.state.requests().count == 1)
        }
    }

    @Test("four workers drain a shared backlog: every request done exactly once, nothing left pending")
    func fourWorkers() async throws {
        let users = 120
        try await Self.fixture(users: users).use { fixture in
            try await fixture.queue(users: users)
            var runtimes = [fixture.runtime]
            for _ in 0..<3 { runtimes.append(try await Self.runtime(like: fixture)) }
            let summaries = try await withThrowingTaskGroup(of: QueueWorker.Summary.self) { group in
                for (n, runtime) in runtimes.enumerated() {
                    group.addTask { try await QueueWorker(engine: runtime.engine, options: .init(owner: "worker-\(n)", requestsPerBatch: 10)).drain() }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            for runtime in runtimes.dropFirst() { await runtime.shutdown() }
            #expect(summaries.reduce(0) { $0 + $1.processed } == users, "each request processed by exactly one worker")
            #expect(summaries.filter { $0.processed > 0 }.count >= 2, "the work was shared")
            let requests = try await fixture.runtime.state.requests(limit: 1000)
            #expect(requests.count == users)
            #expect(requests.allSatisfy { $0.state == .done && $0.attempts == 1 && $0.lease == nil })
            #expect(try await fixture.database.collection("notes").find().toArray().map { $0["owner"] } == ["survivor"])
        }
    }

    @Test("a worker that dies holding a lease loses it when it expires; another finishes the request")
    func deadWorker() async throws {
        try await Self.fixture(users: 1).use { fixture in
            let request = try await fixture.runtime.engine.admission.receive(ErasureSubject(userId: "user-0"), source: .inbox, dedupeKey: "k").request
            let state = fixture.runtime.state
            let dead = try await state.claimBatch(Lease(owner: "dead", expiresAt: Date().addingTimeInterval(600)), limit: 1, excluding: [], now: Date())
            #expect(dead.map(\.id) == [request.id])
            // While the lease stands, nobody else gets it.
            #expect(try await QueueWorker(engine: fixture.runtime.engine, options: .init(owner: "live")).drain().processed == 0)
            // Time passes (without a sleep that a loaded machine could outrun): the lease
            // ran out a second ago, as a dead worker's does.
            let past = BSON.int64(BSONDatetime(Date().addingTimeInterval(-1)).millisecondsSinceEpoch)
            try await fixture.runtime.pool.database(state.options.database).collection("requests").updateOne(
                ["_id": .string(request.id)], ["$set": ["lease.expiresAtMilliseconds": past, "availableAtMilliseconds": past]])
            let summary = try await QueueWorker(engine: fixture.runtime.engine, options: .init(owner: "live")).drain()
            #expect(summary.processed == 1 && summary.count(.done) == 1)
            #expect(try await fixture.runtime.state.request(id: request.id)?.state == .done)
        }
    }

    @Test("a worker whose lease was taken over cannot save over the new holder")
    func fencing() async throws {
        try await Self.fixture(users: 1).use { fixture in
            _ = try await fixture.runtime.engine.admission.receive(ErasureSubject(userId: "user-0"), source: .inbox, dedupeKey: "k")
            let state = fixture.runtime.state
            var stale = try #require(try await state.claimBatch(Lease(owner: "slow", expiresAt: Date().addingTimeInterval(-1)), limit: 1, excluding: [], now: Date()).first)
            _ = try #require(try await state.claimBatch(Lease(owner: "fast", expiresAt: Date().addingTimeInterval(60)), limit: 1, excluding: [], now: Date()).first)
            stale.note = "stale write"
            await #expect(throws: LeaseLost.self) { try await state.save(stale) }
            #expect(try await state.request(id: stale.id)?.lease?.owner == "fast")
        }
    }

    @Test("held requests are looked at once per pass, and run after the hold is lifted")
    func heldInQueue() async throws {
        try await Self.fixture(users: 1).use { fixture in
            let state = fixture.runtime.state
            let subject = ErasureSubject(userId: "user-0")
            let pseudonym = SubjectPseudonymizer(key: try await state.subjectKey()).pseudonym(for: subject)
            try await state.addHold(LegalHold(id: "hold_q", subjectPseudonym: pseudonym, reason: "case", createdAt: Date()))
            let request = try await fixture.runtime.engine.admission.receive(subject, source: .inbox, dedupeKey: "k").request
            let worker = QueueWorker(engine: fixture.runtime.engine)
            let whileHeld = try await worker.drain()
            #expect(whileHeld.processed == 1 && whileHeld.count(.held) == 1 && whileHeld.leftClaimable == [request.id])
            _ = try await state.removeHold(id: "hold_q")
            let lifted = try await worker.drain()
            #expect(lifted.processed == 1 && lifted.count(.done) == 1 && lifted.leftClaimable.isEmpty)
        }
    }

    @Test("requests given back are free at once; a done one given back stays out of the queue")
    func release() async throws {
        try await Self.fixture(users: 2).use { fixture in
            let state = fixture.runtime.state
            var ids: [String] = []
            for user in 0..<2 {
                ids.append(try await fixture.runtime.engine.admission.receive(ErasureSubject(userId: "user-\(user)"), source: .inbox, dedupeKey: "k\(user)").request.id)
            }
            let requests = fixture.runtime.pool.database(state.options.database).collection("requests")
            let lease = Lease(owner: "new", expiresAt: Date().addingTimeInterval(600))
            let claimed = try await state.claimBatch(lease, limit: 10, excluding: [], now: Date())
            #expect(Set(claimed.map(\.id)) == Set(ids))
            #expect(try await state.claimBatch(Lease(owner: "other", expiresAt: Date().addingTimeInterval(600)), limit: 10, excluding: [], now: Date()).isEmpty)
            try await requests.updateOne(["_id": .string(ids[1])], ["$set": ["state": "done", "availableAtMilliseconds": .int64(.max)]])
            try await state.releaseAll(requestIds: ids, owner: "new")
            let again = try await state.claimBatch(Lease(owner: "other", expiresAt: Date().addingTimeInterval(600)), limit: 10, excluding: [], now: Date().addingTimeInterval(1))
            #expect(again.map(\.id) == [ids[0]])
            #expect(try await requests.findOne(["_id": .string(ids[1])]).map { $0["lease"] == nil && $0["availableAtMilliseconds"] == .int64(.max) } == true)
        }
    }

    @Test("retry puts a failed request back in the queue")
    func retry() async throws {
        try await Self.fixture(users: 1).use { fixture in
            // A scalar in an array-free rule cannot fail here, so fail it by hand.
            var request = try await fixture.runtime.engine.admission.receive(ErasureSubject(userId: "user-0"), source: .inbox, dedupeKey: "k").request
            try request.take(.fail, note: "stopped by an error")
            try await fixture.runtime.state.save(request)
            #expect(try await QueueWorker(engine: fixture.runtime.engine).drain().processed == 0)
            _ = try await fixture.runtime.engine.admission.retry(requestId: request.id)
            let retried = try await QueueWorker(engine: fixture.runtime.engine).drain()
            #expect(retried.processed == 1 && retried.count(.done) == 1)
            #expect(try await fixture.runtime.state.request(id: request.id)?.state == .done)
            await #expect(throws: EngineError.self) { try await fixture.runtime.engine.admission.retry(requestId: request.id) }
        }
    }
}
