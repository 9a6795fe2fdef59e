import BSON
import Foundation
@testable import LetheCore
import LetheCoreTestSupport
import Testing

/// The erasure pipeline's paths against the data and the state in memory: no server.
@Suite("Erasure pipeline (in memory)")
struct ErasurePipelineTests {
    static let yaml = """
        version: 1
        name: app
        database: app
        maxDocumentsPerRequest: 50
        rules:
          - collection: items
            match: owner_id
            action: delete
          - collection: comments
            match: author_id
            action: anonymize
            set: { author_name: Deleted user, author_id: null }
          - collection: projects
            match: members
            action: pull
          - collection: orders
            match: customer_id
            action: retain
            reason: Commercial records are kept for 10 years
        """

    static let items = Namespace(database: "app", collection: "items")
    static let comments = Namespace(database: "app", collection: "comments")
    static let projects = Namespace(database: "app", collection: "projects")
    static let orders = Namespace(database: "app", collection: "orders")
    static let alice = ErasureSubject(userId: "alice")
    static let bob = ErasureSubject(userId: "bob")

    /// An engine over fresh in-memory stores, seeded with alice's and bob's data (and
    /// carol's, which must never change).
    struct Fixture {
        let data = InMemoryDataStore()
        let state = InMemoryStateStore()
        let engine: ErasureEngine

        init(options: ErasureEngine.Options = .init()) async throws {
            let loaded = PolicyLoader.load(yaml: ErasurePipelineTests.yaml, file: "app.yaml", options: .init(hashKeyConfigured: false))
            let policy = try #require(loaded.policies.first, "\(loaded.diagnostics)")
            engine = ErasureEngine(data: data, state: state, policies: [policy], anonymizer: nil, options: options)
            var next = 0
            func id() -> BSON { next += 1; return .int32(Int32(next)) }
            for user in ["alice", "bob", "carol"] {
                await data.insert((0..<3).map { _ in ["_id": id(), "owner_id": .string(user)] }, into: ErasurePipelineTests.items)
                await data.insert([["_id": id(), "author_id": .string(user), "author_name": .string(user.capitalized), "text": "hi"]], into: ErasurePipelineTests.comments)
                await data.insert([["_id": id(), "customer_id": .string(user), "total": 10]], into: ErasurePipelineTests.orders)
            }
            await data.insert([["_id": id(), "members": ["alice", "bob", "carol"]]], into: ErasurePipelineTests.projects)
        }

        /// With an operator's free text that names a person, as a real one may.
        func submit(_ subject: ErasureSubject) async throws -> ErasureRequest {
            try await engine.admission.submit(subject, source: .cli, reason: "Alice Example asked by mail")
        }

        /// Carol's documents, as they must stay.
        func carol() async -> [BSONDocument] {
            var kept: [BSONDocument] = []
            for namespace in [ErasurePipelineTests.items, ErasurePipelineTests.comments, ErasurePipelineTests.orders] {
                kept += await data.all(namespace).filter { $0.values.contains(.string("carol")) }
            }
            return kept
        }
    }

    @Test("a batch of two: each rule once for both, each request its own counts, receipt and audit; nobody else touched")
    func batch() async throws {
        let fixture = try await Fixture()
        let carolBefore = await fixture.carol()
        let requests = [try await fixture.submit(Self.alice), try await fixture.submit(Self.bob)]
        let done = try await fixture.engine.eraser().run(requests)
        #expect(done.map(\.state) == [.done, .done])
        for request in done {
            #expect(request.rules[0].deleted == 3 && request.rules[1].modified == 1 && request.rules[2].modified == 1 && request.rules[3].retained == 1)
            #expect(request.rules.map(\.verification) == [.passed, .passed, .passed, .notApplicable])
            #expect(request.subject == nil && request.reason == nil, "the raw ids and free text go when done")
            #expect(try await fixture.state.request(id: request.id)?.reason == nil, "and from the stored request")
            #expect(await !fixture.state.audit.contains { ($0.note ?? "").contains("Alice Example") })
            #expect(try await fixture.state.receipt(requestId: request.id)?.outcome == .completed)
            #expect(await fixture.state.auditTrail(requestId: request.id).map(\.event) == [.received, .started, .finished])
        }
        #expect(await fixture.data.all(Self.items).count == 3)
        #expect(await fixture.data.all(Self.projects).first?["members"] == ["carol"])
        #expect(await fixture.carol() == carolBefore)
        #expect(await fixture.data.commands["delete"] == 1, "one delete for the batch")
    }

    @Test("a single request is a batch of one, through the same stages")
    func single() async throws {
        let fixture = try await Fixture()
        let done = try await fixture.engine.eraser().run(try await fixture.submit(Self.alice))
        #expect(done.state == .done && done.attempts == 1)
        #expect(done.rules[0].deleted == 3)
        #expect(await fixture.state.checkpointsById.isEmpty, "the checkpoint goes when the batch is saved")
    }

    @Test("a held user's request waits, audited once however often it is looked at; it runs once the hold is lifted")
    func hold() async throws {
        let fixture = try await Fixture()
        let pseudonym = SubjectPseudonymizer(key: try await fixture.state.subjectKey()).pseudonym(for: Self.alice)
        try await fixture.state.addHold(LegalHold(id: "hold_1", subjectPseudonym: pseudonym, reason: "case 7", createdAt: Date()))
        var request = try await fixture.submit(Self.alice)
        for _ in 0..<3 { request = try await fixture.engine.eraser().run(request) }
        #expect(request.state == .held && request.note?.contains("hold_1") == true)
        #expect(await fixture.data.all(Self.items).count == 9, "nothing changed")
        #expect(await fixture.state.auditTrail(requestId: request.id).filter { $0.event == .held }.count == 1)
        _ = try await fixture.state.removeHold(id: "hold_1")
        request = try await fixture.engine.eraser().run(request)
        #expect(request.state == .done)
    }

    @Test("over the guard rail a request waits for approval with nothing changed; approved, it runs")
    func approval() async throws {
        let fixture = try await Fixture(options: .init(maxDocumentsPerRequest: 2))
        var request = try await fixture.engine.eraser().run(try await fixture.submit(Self.alice))
        #expect(request.state == .needsApproval)
        #expect(request.note == RequestNotes.waitingForApproval(requestId: request.id, documents: 5, limit: 2))
        #expect(await fixture.data.all(Self.items).count == 9)
        request = try await fixture.engine.admission.approve(requestId: request.id)
        request = try await fixture.engine.eraser().run(request)
        #expect(request.state == .done && request.approved)
    }

    @Test("an error stops the batch with its progress kept; a retry resumes and ends like an uninterrupted run")
    func failureThenRetry() async throws {
        let fixture = try await Fixture(options: .init(maxAttempts: 1))
        struct Down: Error, CustomStringConvertible { var description: String { "server down" } }
        let writes = Counter()
        await fixture.data.failWrites { if writes.next() == 2 { throw Down() } }
        var request = try await fixture.engine.eraser().run(try await fixture.submit(Self.alice))
        #expect(request.state == .failed)
        #expect(request.note == RequestNotes.stoppedByError(Down()))
        #expect(request.rules.map(\.stage) == [.applied, .pending, .pending, .pending])
        request = try await fixture.engine.admission.retry(requestId: request.id)
        request = try await fixture.engine.eraser().run(request)
        #expect(request.state == .done)
        #expect(request.rules[0].deleted == 3, "the first rule's count survives the retry")
        #expect(await fixture.data.all(Self.items).count == 6)
    }

    @Test("data the rule cannot reach (a scalar where an array was expected) fails verification with its count, never 'verified'")
    func verificationFails() async throws {
        let fixture = try await Fixture()
        await fixture.data.insert([["_id": 900, "members": "alice"]], into: Self.projects)
        let request = try await fixture.engine.eraser().run(try await fixture.submit(Self.alice))
        #expect(request.state == .failed)
        #expect(request.rules[2].verification == .failed && request.rules[2].remaining == 1)
        #expect(try await fixture.state.receipt(requestId: request.id)?.outcome == .failed)
    }

    @Test("in a batch, a leftover is failed against the request that owns it, and only that one")
    func leftoverAttributed() async throws {
        let fixture = try await Fixture()
        await fixture.data.insert([["_id": 900, "members": "alice"]], into: Self.projects)
        let done = try await fixture.engine.eraser().run([try await fixture.submit(Self.alice), try await fixture.submit(Self.bob)])
        #expect(done.map(\.state) == [.failed, .done])
    }

    @Test("a batch that died after two checkpoints resumes from them: those rules are not run again, the counts are whole")
    func resumeFromCheckpoint() async throws {
        let reference = try await Fixture()
        let expected = try await reference.engine.eraser().run([try await reference.submit(Self.alice), try await reference.submit(Self.bob)])

        let fixture = try await Fixture()
        let requests = [try await fixture.submit(Self.alice), try await fixture.submit(Self.bob)]
        let worker = LeaseTerms(owner: "w1", duration: .seconds(600))
        let claimed = try await fixture.state.claimBatch(worker.lease(at: Date()), limit: 10, excluding: [], now: Date())
        #expect(claimed.map(\.id) == requests.map(\.id))
        await fixture.state.setCrash(afterCheckpoints: 2)
        await #expect(throws: LeaseLost.self) { try await fixture.engine.eraser(lease: worker).run(claimed) }
        await fixture.state.setCrash(afterCheckpoints: nil)
        let deletesBefore = await fixture.data.commands["delete"] ?? 0
        let stored = try await requests.asyncMap { try #require(try await fixture.state.request(id: $0.id)) }
        #expect(stored.allSatisfy { $0.state == .running })
        let done = try await fixture.engine.eraser().run(stored)
        #expect(done.map(\.state) == [.done, .done])
        #expect(await fixture.data.commands["delete"] == deletesBefore, "the delete rule came from the checkpoint")
        #expect(done.map { $0.rules.map(\.counts) } == expected.map { $0.rules.map(\.counts) })
        #expect(await fixture.state.checkpointsById.isEmpty)
    }

    @Test("an interrupted batch's requests resumed in separate batches: each keeps its counts, and the last to finish removes the checkpoint")
    func checkpointResumedInSeparateBatches() async throws {
        let reference = try await Fixture()
        let expected = try await reference.engine.eraser().run([try await reference.submit(Self.alice), try await reference.submit(Self.bob)])

        let fixture = try await Fixture()
        let requests = [try await fixture.submit(Self.alice), try await fixture.submit(Self.bob)]
        let worker = LeaseTerms(owner: "w1", duration: .seconds(600))
        let claimed = try await fixture.state.claimBatch(worker.lease(at: Date()), limit: 10, excluding: [], now: Date())
        await fixture.state.setCrash(afterCheckpoints: 2)
        await #expect(throws: LeaseLost.self) { try await fixture.engine.eraser(lease: worker).run(claimed) }
        await fixture.state.setCrash(afterCheckpoints: nil)

        let alice = try #require(try await fixture.state.request(id: requests[0].id))
        let first = try await fixture.engine.eraser().run([alice])
        #expect(first.map(\.state) == [.done])
        #expect(await fixture.state.checkpointsById.count == 1, "bob still needs it")
        let bob = try #require(try await fixture.state.request(id: requests[1].id))
        let second = try await fixture.engine.eraser().run([bob])
        #expect(second.map(\.state) == [.done])
        #expect((first + second).map { $0.rules.map(\.counts) } == expected.map { $0.rules.map(\.counts) })
        #expect(await fixture.state.checkpointsById.isEmpty, "no stale checkpoint is left")
    }

    @Test("a request held after its batch was interrupted keeps the interrupted batch's counts, and the checkpoint goes")
    func heldAfterInterruption() async throws {
        let reference = try await Fixture()
        let expected = try await reference.engine.eraser().run([try await reference.submit(Self.alice)])

        let fixture = try await Fixture()
        let request = try await fixture.submit(Self.alice)
        let worker = LeaseTerms(owner: "w1", duration: .seconds(600))
        let claimed = try await fixture.state.claimBatch(worker.lease(at: Date()), limit: 10, excluding: [], now: Date())
        await fixture.state.setCrash(afterCheckpoints: 1)
        await #expect(throws: LeaseLost.self) { try await fixture.engine.eraser(lease: worker).run(claimed) }
        await fixture.state.setCrash(afterCheckpoints: nil)
        let hold = try await fixture.engine.legalHolds.place(on: Self.alice, reason: "litigation", actor: "legal")

        let held = try await fixture.engine.eraser().run([try #require(try await fixture.state.request(id: request.id))])
        #expect(held.map(\.state) == [.held])
        #expect(await fixture.state.checkpointsById.isEmpty)
        #expect(held[0].rules[0].stage == .applied && held[0].rules[0].deleted == 3, "the delete the interrupted batch did is on the request")

        _ = try await fixture.engine.legalHolds.lift(holdId: hold.id, actor: "legal")
        let done = try await fixture.engine.eraser().run([try #require(try await fixture.state.request(id: request.id))])
        #expect(done.map(\.state) == [.done])
        #expect(done.map { $0.rules.map(\.counts) } == expected.map { $0.rules.map(\.counts) })
    }

    @Test("a document retained for two users erased in separate batches counts once in the period report, twice in no receipt's place")
    func sharedRetainedDocumentCountedOnce() async throws {
        let fixture = try await Fixture()
        await fixture.data.insert([["_id": 700, "customer_id": ["alice", "bob"], "total": 30]], into: Self.orders)
        let alice = try await fixture.engine.eraser().run(try await fixture.submit(Self.alice))
        let bob = try await fixture.engine.eraser().run(try await fixture.submit(Self.bob))
        let orderRule = try #require(alice.rules.firstIndex { $0.action == .retain })
        #expect(alice.rules[orderRule].retained == 2 && bob.rules[orderRule].retained == 2, "each receipt says what was kept of its user")

        let receipts = Array(await fixture.state.receipts.values)
        #expect(receipts.allSatisfy { ($0.rules[orderRule].retainedKeys ?? []).allSatisfy { $0.hasPrefix("doc_") && !$0.contains("700") } })
        let now = Date()
        let report = ComplianceReport.build(period: DateInterval(start: now.addingTimeInterval(-3600), end: now.addingTimeInterval(3600)),
                                            requests: [alice, bob], receipts: receipts, policies: [], sweeps: [], now: now)
        let kept = try #require(report.documents.retained.first)
        #expect(kept.documents == 3, "alice's order, bob's order, and the one they share")
        #expect(kept.requests == 2)
        #expect(report.documents.namespaces.first { $0.namespace == "app.orders" }?.retained == 3)

        // Receipts written before keys existed count per request, as they did.
        let unkeyed = receipts.map { receipt in
            var copy = receipt
            for index in copy.rules.indices { copy.rules[index].retainedKeys = nil }
            return copy
        }
        let older = ComplianceReport.build(period: DateInterval(start: now.addingTimeInterval(-3600), end: now.addingTimeInterval(3600)),
                                           requests: [alice, bob], receipts: unkeyed, policies: [], sweeps: [], now: now)
        #expect(older.documents.retained.first?.documents == 4)
    }

    @Test("a worker whose lease was taken over stops at its next save and records nothing more")
    func leaseLost() async throws {
        let fixture = try await Fixture()
        let request = try await fixture.submit(Self.alice)
        let worker = LeaseTerms(owner: "w1", duration: .seconds(600))
        let claimed = try await fixture.state.claimBatch(worker.lease(at: Date()), limit: 1, excluding: [], now: Date())
        await fixture.state.takeOver(request.id, by: "w2")
        await #expect(throws: LeaseLost.self) { try await fixture.engine.eraser(lease: worker).run(claimed) }
        #expect(try await fixture.state.request(id: request.id)?.lease?.owner == "w2")
        #expect(try await fixture.state.receipt(requestId: request.id) == nil)
    }

    @Test("requests recorded under other policies fail with the reason instead of running rules that are not theirs")
    func policiesChanged() async throws {
        let fixture = try await Fixture()
        var request = try await fixture.submit(Self.alice)
        request.rules.removeLast()
        request = try await fixture.engine.eraser().run(request)
        #expect(request.state == .failed && request.note == RequestNotes.policiesChanged(request))
    }

    @Test("the lifecycle refuses a step it does not have, changing nothing")
    func lifecycle() throws {
        var request = ErasureRequest(id: "req_x", subjectPseudonym: "subj_x", subject: Self.alice, source: .cli, reason: nil,
                                     receivedAt: Date(), dueAt: nil, policies: [])
        #expect(throws: RequestLifecycle.InvalidTransition.self) { try request.take(.finish) }
        #expect(request.state == .received)
        try request.take(.start)
        try request.take(.finish)
        #expect(request.state == .done)
    }
}

/// A counter shared with a `@Sendable` closure.
final class Counter: @unchecked Sendable {
    // @unchecked: guarded by the lock.
    private let lock = NSLock()
    private var value = 0
    func next() -> Int { lock.withLock { value += 1; return value } }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
