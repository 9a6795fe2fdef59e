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
            let results = try await withThrowingTaskGroup(of: (ErasureRequest, Bool).self) { group in
                for _ in 0..<4 { group.addTask { try await engine.receive(subject, source: "inbox", dedupeKey: "ce:event-1") } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(results.map(\.0.id)).count == 1)
            #expect(results.filter(\.1).count == 1)
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
            let (request, _) = try await fixture.runtime.engine.receive(ErasureSubject(userId: "user-0"), source: "inbox", dedupeKey: "k")
            let state = fixture.runtime.state
            let dead = try await state.claimBatch(owner: "dead", until: Date().addingTimeInterval(5), limit: 1, excluding: [], now: Date())
            #expect(dead.map(\.id) == [request.id])
            // While the lease stands, nobody else gets it.
            #expect(try await QueueWorker(engine: fixture.runtime.engine, options: .init(owner: "live")).drain().processed == 0)
            try await Task.sleep(for: .milliseconds(5_200))
            let summary = try await QueueWorker(engine: fixture.runtime.engine, options: .init(owner: "live")).drain()
            #expect(summary.processed == 1 && summary.count(.done) == 1)
            #expect(try await fixture.runtime.state.request(id: request.id)?.state == .done)
        }
    }

    @Test("a worker whose lease was taken over cannot save over the new holder")
    func fencing() async throws {
        try await Self.fixture(users: 1).use { fixture in
            _ = try await fixture.runtime.engine.receive(ErasureSubject(userId: "user-0"), source: "inbox", dedupeKey: "k")
            let state = fixture.runtime.state
            var stale = try #require(try await state.claimBatch(owner: "slow", until: Date().addingTimeInterval(-1), limit: 1, excluding: [], now: Date()).first)
            _ = try #require(try await state.claimBatch(owner: "fast", until: Date().addingTimeInterval(60), limit: 1, excluding: [], now: Date()).first)
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
            let (request, _) = try await fixture.runtime.engine.receive(subject, source: "inbox", dedupeKey: "k")
            let worker = QueueWorker(engine: fixture.runtime.engine)
            let whileHeld = try await worker.drain()
            #expect(whileHeld.processed == 1 && whileHeld.count(.held) == 1 && whileHeld.leftClaimable == [request.id])
            _ = try await state.removeHold(id: "hold_q")
            let lifted = try await worker.drain()
            #expect(lifted.processed == 1 && lifted.count(.done) == 1 && lifted.leftClaimable.isEmpty)
        }
    }

    @Test("requests stored by a version without the queue key are claimed after the next start: free ones at once, leased ones when the lease ends, finished ones never")
    func requestsWithoutQueueKey() async throws {
        try await Self.fixture(users: 4).use { fixture in
            let state = fixture.runtime.state
            var ids: [String] = []
            for user in 0..<4 {
                ids.append(try await fixture.runtime.engine.receive(ErasureSubject(userId: "user-\(user)"), source: "inbox", dedupeKey: "k\(user)").request.id)
            }
            // As an earlier version left them: a free one, one a live worker holds, one
            // whose lease ran out, one done; none with the key.
            let requests = fixture.runtime.pool.database(state.options.database).collection("requests")
            let now = BSONDatetime(Date()).millisecondsSinceEpoch
            try await requests.updateMany([:], ["$unset": ["availableAtMilliseconds": ""]])
            try await requests.updateOne(["_id": .string(ids[1])], ["$set": ["lease": ["owner": "old", "expiresAtMilliseconds": .int64(now + 60_000)]]])
            try await requests.updateOne(["_id": .string(ids[2])], ["$set": ["lease": ["owner": "old", "expiresAtMilliseconds": .int64(now - 1_000)]]])
            try await requests.updateOne(["_id": .string(ids[3])], ["$set": ["state": "done"]])
            let lease = Date().addingTimeInterval(600)
            #expect(try await state.claimBatch(owner: "new", until: lease, limit: 10, excluding: [], now: Date()).isEmpty)

            try await state.prepare()
            let claimed = try await state.claimBatch(owner: "new", until: lease, limit: 10, excluding: [], now: Date())
            #expect(Set(claimed.map(\.id)) == [ids[0], ids[2]])
            let afterTheLease = try await state.claimBatch(owner: "new", until: lease.addingTimeInterval(600), limit: 10, excluding: [], now: Date().addingTimeInterval(61))
            #expect(afterTheLease.map(\.id) == [ids[1]])
            #expect(try await requests.findOne(["_id": .string(ids[3])])?["availableAtMilliseconds"] == .int64(.max))

            // Given back, the claimed ones are free at once (a done one given back is not).
            try await requests.updateOne(["_id": .string(ids[3])], ["$set": ["lease": ["owner": "new", "expiresAtMilliseconds": .int64(now + 60_000)]]])
            try await state.releaseAll(requestIds: claimed.map(\.id) + [ids[3]], owner: "new")
            let again = try await state.claimBatch(owner: "other", until: lease, limit: 10, excluding: [], now: Date().addingTimeInterval(1))
            #expect(Set(again.map(\.id)) == [ids[0], ids[2]])
            #expect(try await requests.findOne(["_id": .string(ids[3])]).map { $0["lease"] == nil && $0["availableAtMilliseconds"] == .int64(.max) } == true)
        }
    }

    @Test("a long drain sends a claim only what it left claimable, not every request it finished")
    func shortExclusions() async throws {
        try await Self.fixture(users: 30).use { fixture in
            try await fixture.queue(users: 30)
            let subject = ErasureSubject(userId: "user-0")
            let pseudonym = SubjectPseudonymizer(key: try await fixture.runtime.state.subjectKey()).pseudonym(for: subject)
            try await fixture.runtime.state.addHold(LegalHold(id: "hold_x", subjectPseudonym: pseudonym, reason: "case", createdAt: Date()))
            let exclusions = LockedList<[String]>()
            let engine = fixture.runtime.engine.with(state: ClaimRecorder(base: fixture.runtime.state, exclusions: exclusions))
            let summary = try await QueueWorker(engine: engine, options: .init(requestsPerBatch: 10)).drain()
            #expect(summary.count(.done) == 29)
            #expect(summary.count(.held) == 1)
            #expect(summary.leftClaimable.count == 1)
            let held = try #require(summary.leftClaimable.first)
            // Four claims (three of ten, the empty one); from the held request's batch on, it alone is excluded.
            #expect(exclusions.values.count == 4)
            #expect(exclusions.values.allSatisfy { $0.isEmpty || $0 == [held] })
            #expect(exclusions.values.last == [held])
        }
    }

    @Test("retry puts a failed request back in the queue")
    func retry() async throws {
        try await Self.fixture(users: 1).use { fixture in
            // A scalar in an array-free rule cannot fail here, so fail it by hand.
            var (request, _) = try await fixture.runtime.engine.receive(ErasureSubject(userId: "user-0"), source: "inbox", dedupeKey: "k")
            request.state = .failed
            request.note = "stopped by an error"
            try await fixture.runtime.state.save(request)
            #expect(try await QueueWorker(engine: fixture.runtime.engine).drain().processed == 0)
            _ = try await fixture.runtime.engine.retry(requestId: request.id)
            let retried = try await QueueWorker(engine: fixture.runtime.engine).drain()
            #expect(retried.processed == 1 && retried.count(.done) == 1)
            #expect(try await fixture.runtime.state.request(id: request.id)?.state == .done)
            await #expect(throws: EngineError.self) { try await fixture.runtime.engine.retry(requestId: request.id) }
        }
    }
}

/// Records what each claim was told to exclude.
struct ClaimRecorder: ForwardingStateStore {
    let base: any StateStore
    let exclusions: LockedList<[String]>

    func claimBatch(owner: String, until expiry: Date, limit: Int, excluding: [String], now: Date) async throws -> [ErasureRequest] {
        exclusions.append(excluding)
        return try await base.claimBatch(owner: owner, until: expiry, limit: limit, excluding: excluding, now: now)
    }
}
