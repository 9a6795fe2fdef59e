import BSON
import Foundation
@testable import LetheCore
import LetheCoreTestSupport
import LetheService
import Testing

/// The queue worker over the in-memory stores: leases and claims without a server.
@Suite("Queue worker (in memory)")
struct QueueWorkerTests {
    static let yaml = """
        version: 1
        name: app
        database: app
        rules:
          - collection: items
            match: owner_id
            action: delete
        """
    static let items = Namespace(database: "app", collection: "items")

    static func engine(users: Int) async throws -> (ErasureEngine, InMemoryDataStore, InMemoryStateStore) {
        let (data, state) = (InMemoryDataStore(), InMemoryStateStore())
        let policy = try #require(PolicyLoader.load(yaml: yaml, file: "app.yaml", options: .init(hashKeyConfigured: false)).policies.first)
        let engine = ErasureEngine(data: data, state: state, policies: [policy], anonymizer: nil)
        for user in 0..<users {
            await data.insert([["_id": .int32(Int32(user)), "owner_id": .string("user-\(user)")]], into: items)
            _ = try await engine.admission.receive(ErasureSubject(userId: "user-\(user)"), source: .inbox, dedupeKey: "k\(user)")
        }
        return (engine, data, state)
    }

    @Test("a worker resumes the leases it could not give back at once, not when they expire")
    func ownLeasesResumed() async throws {
        let (engine, _, state) = try await Self.engine(users: 3)
        let worker = QueueWorker(engine: engine, options: .init(owner: "w1"))
        // A pass that claimed, then lost the server before it could give the leases back.
        _ = try await state.claimBatch(Lease(owner: "w1", expiresAt: Date().addingTimeInterval(600)), limit: 10, excluding: [], now: Date())
        let summary = try await worker.drain()
        #expect(summary.count(.done) == 3)
        // Another worker's live lease is left alone.
        let (other, _, otherState) = try await Self.engine(users: 1)
        _ = try await otherState.claimBatch(Lease(owner: "w2", expiresAt: Date().addingTimeInterval(600)), limit: 10, excluding: [], now: Date())
        #expect(try await QueueWorker(engine: other, options: .init(owner: "w1")).drain().processed == 0)
    }

    @Test("the leases of a process of this machine that is gone are resumed at once; a live one's, another machine's, another boot's are not")
    func goneProcessLeasesResumed() async throws {
        let me = LeaseOwnerName.current()
        guard let boot = me.boot else { return }  // no boot id (not Linux): leases only expire
        let (engine, _, state) = try await Self.engine(users: 4)
        var dead = me
        dead.nonce = "gone00"  // this pid under another nonce: a restarted container's pid 1
        var parent = me
        parent.processId = getppid()  // alive
        var elsewhere = dead
        elsewhere.host = me.host + "-other"
        var rebooted = dead
        rebooted.boot = String(boot.reversed())
        let ids = await state.requests.keys.sorted()
        for (id, owner) in zip(ids, [dead, parent, elsewhere, rebooted]) {
            _ = try await state.claimBatch(Lease(owner: owner.description, expiresAt: Date().addingTimeInterval(600)),
                                           limit: 1, excluding: [], among: [id], now: Date())
        }
        let pass = try await WorkerPass(worker: QueueWorker(engine: engine, options: .init(owner: me.description)), inbox: nil).run()
        #expect(pass.queue.count(.done) == 1)
        #expect(await state.requests[ids[0]]?.state == .done)
        #expect(pass.queue.leasedElsewhere == 3)
    }

    @Test("a lease owner's name is read back, and only a gone process of this machine and boot is judged gone")
    func leaseOwnerNames() throws {
        let me = LeaseOwnerName(host: "web-1", processId: 40, nonce: "abc123", boot: "b00t")
        let lane = try #require(LeaseOwnerName(owner: me.description + "/3"))
        #expect(lane == me)
        #expect(LeaseOwnerName(owner: "w1") == nil && LeaseOwnerName(owner: "web-1#x#abc#b00t") == nil)
        let none: (Int32) -> Bool = { _ in false }, all: (Int32) -> Bool = { _ in true }
        var other = me
        other.processId = 41
        #expect(me.isGone(other, processExists: none))
        #expect(!me.isGone(other, processExists: all))
        #expect(!me.isGone(lane, processExists: none), "a lane of this worker is this worker")
        var restarted = me
        restarted.nonce = "def456"
        #expect(me.isGone(restarted, processExists: all), "this pid under another nonce is a process before this one")
        var elsewhere = other
        elsewhere.host = "web-2"
        #expect(!me.isGone(elsewhere, processExists: none))
        var noBoot = me
        noBoot.boot = nil
        #expect(!noBoot.isGone(other, processExists: none))
    }

    @Test("one request, one worker: while one holds it, another `run(requestId:)` gets nothing and changes nothing")
    func oneWorkerPerRequest() async throws {
        let (engine, data, state) = try await Self.engine(users: 1)
        let request = try #require(await state.requests.values.first)
        _ = try await state.claimBatch(Lease(owner: "w1", expiresAt: Date().addingTimeInterval(600)), limit: 1, excluding: [], now: Date())
        #expect(try await QueueWorker(engine: engine, options: .init(owner: "w2")).run(requestId: request.id) == nil)
        #expect(await data.all(Self.items).count == 1)
        #expect(await state.audit.filter { $0.event == .started }.isEmpty)
        try await state.releaseAll(requestIds: nil, owner: "w1")
        let done = try #require(try await QueueWorker(engine: engine, options: .init(owner: "w2")).run(requestId: request.id))
        #expect(done.state == .done && done.lease == nil)
        #expect(await state.requests[request.id]?.lease == nil)
    }

    @Test("a long drain sends a claim only what it left claimable, not every request it finished")
    func shortExclusions() async throws {
        let (engine, _, state) = try await Self.engine(users: 30)
        let pseudonym = SubjectPseudonymizer(key: try await state.subjectKey()).pseudonym(for: ErasureSubject(userId: "user-0"))
        try await state.addHold(LegalHold(id: "hold_x", subjectPseudonym: pseudonym, reason: "case", createdAt: Date()))
        let summary = try await QueueWorker(engine: engine, options: .init(requestsPerBatch: 10)).drain()
        #expect(summary.count(.done) == 29 && summary.count(.held) == 1)
        let held = try #require(summary.leftClaimable.first)
        let exclusions = await state.claimExclusions
        #expect(exclusions.count == 4, "three claims of ten, and the empty one")
        #expect(exclusions.allSatisfy { $0.isEmpty || $0 == [held] })
        #expect(exclusions.last == [held])
    }

    @Test("a batch that died in its finish, after its receipts, is concluded from them: one receipt, one `finished`, one attempt")
    func finishOnce() async throws {
        let (engine, _, state) = try await Self.engine(users: 2)
        await state.setCrashOnFinalSave()
        #expect(try await QueueWorker(engine: engine, options: .init(owner: "w1")).drain().leasesLost == 1)
        #expect(await state.requests.values.allSatisfy { $0.state == .running })
        let summary = try await QueueWorker(engine: engine, options: .init(owner: "w1")).drain()
        #expect(summary.count(.done) == 2)
        for request in await state.requests.values {
            #expect(request.state == .done && request.attempts == 1 && request.subject == nil)
            let trail = await state.auditTrail(requestId: request.id)
            #expect(trail.filter { $0.event == .finished }.count == 1, "\(trail.map { "\($0.event.rawValue) \($0.note ?? "")" })")
            #expect(trail.filter { $0.event == .started }.count == 1)
        }
        #expect(await state.checkpointsById.isEmpty)
    }
}
