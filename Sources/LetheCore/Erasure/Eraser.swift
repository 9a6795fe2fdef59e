import BSON
import Foundation
import Logging

/// The erasure pipeline: runs claimed requests as far as each can go (to `done`,
/// `failed`, `held` or `needs-approval`). A single request is a batch of one.
///
/// Stages, in order: **admit** (restore an interrupted run's progress; holds; ids and
/// rules still valid), **count and guard** (what each rule covers per request; the
/// approval guard rail), **start**, **apply** each rule (one set-based write per rule
/// for the whole batch, a checkpoint after each), **verify**, **finish** (tombstones,
/// receipts, audit, requests saved with their leases given back). Per rule, each request keeps
/// its own exact counts.
public struct Eraser: Sendable {
    let engine: ErasureEngine
    /// The worker's leases: every save is fenced by them, and they are renewed as the
    /// batch goes. Nil for a caller that holds no lease (a test, a one-off run).
    let lease: LeaseTerms?

    var state: any StateStore { engine.state }

    /// Runs the requests; returns them, in the same order, as they were left. With a
    /// lease, a heartbeat renews it every third of its duration while the batch runs,
    /// so that a lease can be short (a worker that dies frees its requests soon) however
    /// long one rule takes; a lease found lost stops the batch.
    public func run(_ claimed: [ErasureRequest]) async throws -> [ErasureRequest] {
        guard let lease, !claimed.isEmpty else { return try await pipeline(claimed, heartbeat: nil) }
        let heartbeat = LeaseHeartbeat()
        return try await withThrowingTaskGroup(of: [ErasureRequest]?.self) { group in
            group.addTask { try await pipeline(claimed, heartbeat: heartbeat) }
            group.addTask {
                try await heartbeat.beat(every: lease.duration / 3) {
                    try await state.renewLeases(requestIds: claimed.map(\.id), to: lease.lease(at: engine.now()))
                }
                return nil
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let requests = result { return requests }
            }
            return claimed
        }
    }

    /// The stages, in order.
    private func pipeline(_ claimed: [ErasureRequest], heartbeat: LeaseHeartbeat?) async throws -> [ErasureRequest] {
        var batch = try await admit(claimed)
        try await resolveLookups(&batch)
        try await countAndGuard(&batch)
        try await start(&batch)
        do {
            try await applyRules(&batch)
            try await verify(&batch)
        } catch let lost as LeaseLost {
            throw lost
        } catch {
            heartbeat?.stop()
            try await stop(&batch, error: error)
            return batch.requests
        }
        heartbeat?.stop()
        try await finish(&batch)
        return batch.requests
    }

    /// Runs one request (a batch of one).
    public func run(_ request: ErasureRequest) async throws -> ErasureRequest {
        try await run([request])[0]
    }

    // MARK: Admit

    func admit(_ claimed: [ErasureRequest]) async throws -> ErasureBatch {
        var batch = ErasureBatch(claimed: claimed, at: engine.now())
        let open = claimed.filter(\.isOpen)
        batch.earlier = open.isEmpty ? [] : try await state.checkpoints(requestIds: open.map(\.id))
        let holds = open.isEmpty ? [:] : try await state.holds(among: Array(Set(open.map(\.subjectPseudonym))))
        for stored in claimed {
            var request = stored
            guard request.isOpen else {
                batch.settled.append(.init(request: request, claimedAs: stored.state))
                continue
            }
            if let finished = try await finishedEarlier(request, earlier: batch.earlier) {
                batch.settled.append(.init(request: finished, claimedAs: stored.state, recorded: true))
                continue
            }
            do {
                if let member = try admitOne(&request, hold: holds[request.subjectPseudonym], earlier: batch.earlier) {
                    batch.members.append(member)
                } else {
                    batch.settled.append(.init(request: request, claimedAs: stored.state))
                }
            } catch {
                try request.take(.fail, note: "\(error)")
                batch.settled.append(.init(request: request, claimedAs: stored.state))
            }
        }
        return batch
    }

    /// A running request whose batch stopped during its finish, after the receipt was
    /// written: concluded as its receipt says, so that a rerun writes no second
    /// receipt, no second `finished` entry and no second attempt. Nil otherwise.
    private func finishedEarlier(_ request: ErasureRequest, earlier: [BatchCheckpoint]) async throws -> ErasureRequest? {
        guard request.state == .running, let checkpoint = earlier.first(where: { $0.requestIds.contains(request.id) }),
              let receipt = try await state.receipt(requestId: request.id), receipt.finishedAt >= checkpoint.startedAt
        else { return nil }
        var finished = request
        for checkpoint in earlier { _ = checkpoint.restore(into: &finished) }
        for (index, rule) in receipt.rules.enumerated() where finished.rules.indices.contains(index) {
            finished.rules[index].verified(remaining: rule.remaining, of: rule.action)
            if rule.verification == .notRun { finished.rules[index].stage = .applied }
        }
        finished.finishedAt = receipt.finishedAt
        if receipt.outcome == .completed {
            try finished.take(.finish)
            finished.subject = nil
            finished.reason = nil
        } else {
            try finished.take(.fail, note: receipt.note)
        }
        return finished
    }

    /// The member `request` makes, or nil when it stops here (held, or failed with its
    /// note set).
    private func admitOne(_ request: inout ErasureRequest, hold: String?, earlier: [BatchCheckpoint]) throws -> BatchMember? {
        // An interrupted batch's counts come back first, whatever happens next (a hold,
        // a failure): the request saved by this batch carries them, so no checkpoint is
        // needed for it again.
        if request.state == .running { restore(earlier, into: &request) }
        guard let subject = request.subject?.subject else {
            try request.take(.fail, note: EngineError.subjectMissing(request.id).description)
            return nil
        }
        if let hold {
            try request.take(.holdFound, note: RequestNotes.held(by: hold))
            return nil
        }
        if request.state == .held { try request.take(.holdLifted) }
        if request.state == .failed { try request.take(.retry) }
        guard engine.rulesMatch(request) else {
            try request.take(.fail, note: RequestNotes.policiesChanged(request))
            return nil
        }
        var sources = try engine.bindings(of: subject)
        // Values kept from an earlier run: the documents they came from may be gone.
        for (index, policy) in engine.policies.enumerated() {
            for lookup in policy.lookups {
                if let kept = request.subject?.lookupValues(policy: policy.name, lookup: lookup.name) { sources[index][lookup.name] = kept }
            }
        }
        return BatchMember(request: request, subject: subject, sources: sources, token: engine.anonymizer?.token(for: subject))
    }

    // MARK: Lookups

    /// Reads the lookups of the members that do not hold their values yet (one read
    /// per lookup for all of them), keeps the values with each request, and holds back
    /// a request whose lookup found more values than its policy's bound.
    func resolveLookups(_ batch: inout ErasureBatch) async throws {
        guard engine.policies.contains(where: { !$0.lookups.isEmpty }), !batch.members.isEmpty else { return }
        var sources = batch.members.map(\.sources)
        let outcome = try await LookupResolver(engine: engine).resolve(&sources)
        for index in batch.members.indices {
            batch.members[index].sources = sources[index]
            guard let resolved = outcome.resolved[index] else { continue }
            let kept = batch.members[index].request.subject?.lookups ?? []
            batch.members[index].request.subject?.lookups = kept + resolved
            batch.lookupsResolvedHere.insert(batch.members[index].id)
        }
        for index in batch.members.indices.reversed() {
            let request = batch.members[index].request
            guard let over = outcome.overBound[index], !request.approved, request.startedAt == nil else { continue }
            let claimedAs = request.state
            try batch.members[index].request.take(.overLimit, note: RequestNotes.lookupOverBound(
                requestId: request.id, policy: over.policy, lookup: over.lookup, limit: over.limit))
            batch.settle(memberAt: index, claimedAs: claimedAs)
        }
    }

    /// Marks as applied, with their counts, the rules that checkpoints of earlier runs
    /// hold for `request`.
    private func restore(_ earlier: [BatchCheckpoint], into request: inout ErasureRequest) {
        let restored = earlier.flatMap { $0.restore(into: &request) }
        guard !restored.isEmpty, engine.rulesMatch(request) else { return }
        for position in restored {
            if case .retain(let retention) = engine.policyRules[position].rule.action { request.rules[position].retainReason = retention.reason }
        }
    }

    // MARK: Count and guard

    /// Counts what each pending rule covers per request (the receipts' figures, and
    /// how writes are grouped), then holds back the requests over the guard rail.
    func countAndGuard(_ batch: inout ErasureBatch) async throws {
        var counted: [[String: RuleCount]] = []
        for rule in engine.policyRules {
            let pending = batch.members.filter { $0.isPending(rule) }
            // Retained documents count for the receipt, not for the guard rail: they
            // are counted while they are recorded, in one read.
            guard !pending.isEmpty, !rule.rule.action.isRetain else {
                counted.append([:])
                continue
            }
            let statement = statement(rule, pending)
            counted.append(try await attribute(statement, rule: rule, members: pending, filter: statement.pendingFilter))
        }
        batch.counted = counted
        let limit = engine.documentLimit
        for index in batch.members.indices.reversed() {
            let request = batch.members[index].request
            let total = engine.policyRules.reduce(0) { $0 + (counted[$1.position][request.id]?.documents ?? 0) }
            guard request.startedAt == nil, total > limit, !request.approved else { continue }
            let claimedAs = request.state
            try batch.members[index].request.take(.overLimit, note: RequestNotes.waitingForApproval(requestId: request.id, documents: total, limit: limit))
            batch.settle(memberAt: index, claimedAs: claimedAs)
        }
    }

    // MARK: Start

    /// Marks the members running (one command), saves the requests that stop here,
    /// and audits both.
    func start(_ batch: inout ErasureBatch) async throws {
        // Lookup values read here are saved before any rule runs, so that a rerun after
        // the documents they came from are gone matches the same values; a request
        // that stops here reads them again when it runs.
        for index in batch.settled.indices where batch.lookupsResolvedHere.contains(batch.settled[index].request.id) {
            batch.settled[index].request.subject?.lookups = nil
        }
        let withValues = batch.members.filter { batch.lookupsResolvedHere.contains($0.id) }.map(\.request)
        if !withValues.isEmpty { try await state.saveAll(withValues.map(leased), releasingLeases: false) }
        let started = engine.now()
        var entries: [AuditEntry] = batch.settled.compactMap { entry in
            let request = entry.request
            guard !entry.recorded, request.state != entry.claimedAs || request.state == .failed else { return nil }
            switch request.state {
            case .held: return AuditEntry.about(request, .held, at: started, note: request.note)
            case .needsApproval: return AuditEntry.about(request, .needsApproval, at: started, note: request.note)
            case .failed: return AuditEntry.about(request, .failed, at: started, note: request.note)
            default: return nil
            }
        }
        for index in batch.members.indices {
            if batch.members[index].request.state == .needsApproval { try batch.members[index].request.take(.approved) }
            try batch.members[index].request.take(.start)
            batch.members[index].request.startedAt = batch.members[index].request.startedAt ?? started
            batch.members[index].request.attempts += 1
            let request = batch.members[index].request
            entries.append(AuditEntry.about(request, .started, at: started, note: "attempt \(request.attempts), in a batch of \(batch.members.count)"))
        }
        let stopped = batch.settled.filter(\.needsSaving).map(\.request)
        if !stopped.isEmpty { try await state.saveAll(stopped.map(leased), releasingLeases: false) }
        try await state.markStarted(requestIds: batch.members.map(\.id), lease: lease?.lease(at: started))
        try await state.appendAudit(entries)
        batch.checkpoint = BatchCheckpoint(requestIds: batch.members.map(\.id), startedAt: started)
    }

    // MARK: Apply

    func applyRules(_ batch: inout ErasureBatch) async throws {
        for rule in engine.policyRules {
            let pending = batch.members.filter { $0.isPending(rule) }
            guard !pending.isEmpty else { continue }
            let counts = try await apply(rule, to: pending, counted: batch.counted[rule.position])
            for index in batch.members.indices where batch.members[index].isPending(rule) {
                batch.members[index].request.rules[rule.position].record(counts[batch.members[index].id] ?? RuleCount(), of: rule.rule.action)
            }
            batch.checkpoint.record(rule: rule.position, of: batch.members.map(\.request))
            try await state.saveCheckpoint(batch.checkpoint)
        }
    }

    // MARK: Verify

    /// One read per rule for the whole batch: the documents still needing the action.
    /// Leftovers are attributed to the requests whose ids they hold; a leftover that
    /// holds none of them fails every request of the batch, so nothing is "verified"
    /// while data the rule must change is there.
    func verify(_ batch: inout ErasureBatch) async throws {
        for rule in engine.policyRules {
            var remaining: [String: Int] = [:]
            if !rule.rule.action.isRetain {
                let statement = statement(rule, batch.members)
                let left: [BSON]
                if let elements = statement.elements {
                    left = try await elementLeftovers(statement, elements, counted: batch.counted[rule.position])
                } else {
                    left = try await engine.retrying {
                        try await engine.data.idsHolding(statement.namespace, values: statement.ids, atAnyOf: rule.rule.match,
                                                        filter: statement.pendingBeyondMatch, limit: engine.options.verificationLimit)
                    }
                }
                if !left.isEmpty {
                    remaining = try await leftovers(statement, rule: rule, members: batch.members, ids: left)
                }
            }
            for index in batch.members.indices {
                batch.members[index].request.rules[rule.position].verified(remaining: rule.rule.action.isRetain ? nil : remaining[batch.members[index].id] ?? 0,
                                                                           of: rule.rule.action.kind)
            }
        }
    }

    /// The documents of an element anonymization where one of the user's elements is
    /// not anonymized. The documents holding the ids are found by the store's most
    /// faithful question (`idsHolding`), read, and each of the user's elements tested
    /// here, since after the write they still hold the ids by design. More candidates
    /// than were counted before the write (plus the verification limit) count as left
    /// over: what was not read is not called verified.
    private func elementLeftovers(_ statement: RuleStatement, _ elements: ElementAnonymization,
                                  counted: [String: RuleCount]) async throws -> [BSON] {
        let bound = counted.values.reduce(0) { $0 + $1.documents } + engine.options.verificationLimit
        let candidates = try await engine.retrying {
            try await engine.data.idsHolding(statement.namespace, values: statement.ids, atAnyOf: statement.rule.match,
                                            filter: statement.pendingBeyondMatch, limit: bound + 1)
        }
        let ids = Set(statement.ids)
        var left: [BSON] = []
        for chunk in Array(candidates.prefix(bound)).chunked(into: 1_000) {
            let documents = try await engine.retrying {
                try await engine.data.documents(statement.namespace, ids: chunk, projection: Self.projection([elements.match] + elements.set.keys + elements.unset))
            }
            left += documents.filter { elements.stillPending($0, ids: ids) }.compactMap { $0["_id"] }
            // A candidate that could not be read back is not called anonymized.
            let read = Set(documents.compactMap { $0["_id"] })
            left += chunk.filter { !read.contains($0) }
        }
        if candidates.count > bound { left += candidates[bound...] }
        return Array(left.prefix(engine.options.verificationLimit))
    }

    // MARK: Finish

    /// Concludes each member (done, or failed by its verification), stores receipts and
    /// closing audit entries, and saves every request with its lease given back.
    func finish(_ batch: inout ErasureBatch) async throws {
        let finished = engine.now()
        let lookups = batch.members.map { $0.request.subject?.lookups ?? [] }
        for index in batch.members.indices {
            try batch.members[index].request.conclude(at: finished, verificationLimit: engine.options.verificationLimit)
        }
        let requests = batch.members.map(\.request)
        // Tombstones before receipts: the user's ids leave the request when it is saved
        // done, and a finish interrupted after its receipt is concluded from the receipt
        // (`finishedEarlier`), so the tombstones must be in by then. Recording them again
        // (a finish run again before its receipt) keeps one per value and request.
        let tombstones = try await engine.tombstones(of: batch.members, at: finished)
        if !tombstones.isEmpty { try await state.recordTombstones(tombstones) }
        if !requests.isEmpty {
            try await state.saveReceipts(zip(requests, lookups).map { Receipt(request: $0, finishedAt: finished, lookups: $1) })
        }
        try await state.appendAudit(requests.map { AuditEntry.closing($0, at: finished) })
        try await saveAndRelease(&batch)
        engine.logger.info("batch finished", metadata: [
            LogKey.requests: .stringConvertible(batch.order.count),
            LogKey.done: .stringConvertible(requests.filter { $0.state == .done }.count),
        ])
    }

    /// After an error: the members fail with their progress kept (a rerun resumes).
    func stop(_ batch: inout ErasureBatch, error: any Error) async throws {
        let note = RequestNotes.stoppedByError(error)
        for index in batch.members.indices { try batch.members[index].request.take(.fail, note: note) }
        let at = engine.now()
        // Saved first: fenced by the lease, the save is what tells a worker that lost its
        // requests to record nothing about them.
        try await saveAndRelease(&batch)
        try await state.appendAudit(batch.members.map { AuditEntry.closing($0.request, at: at) })
        engine.logger.error("batch stopped by an error", metadata: [LogKey.requests: .stringConvertible(batch.members.count), LogKey.reason: .string("\(error)")])
    }

    /// Saves every open or just-finished request, leases given back, then removes the
    /// checkpoints it no longer needs.
    private func saveAndRelease(_ batch: inout ErasureBatch) async throws {
        let toSave = batch.members.map(\.request) + batch.settled.filter(\.needsSaving).map(\.request)
        if !toSave.isEmpty { try await state.saveAll(toSave.map(leased), releasingLeases: true) }
        for index in batch.members.indices { batch.members[index].request.lease = nil }
        for index in batch.settled.indices where batch.settled[index].needsSaving { batch.settled[index].request.lease = nil }
        let saved = Set(toSave.map(\.id))
        if !batch.checkpoint.applied.isEmpty, batch.checkpoint.requestIds.allSatisfy(saved.contains) {
            try await state.removeCheckpoint(id: batch.checkpoint.id)
        }
        try await removeSpent(batch.earlier, saved: saved)
    }

    /// Removes the checkpoints of earlier runs that no request needs any more: each of
    /// their requests was saved by this batch (which restored their counts) or is no
    /// longer running. An interrupted batch's requests may resume in several later
    /// batches; the last of them to finish removes its checkpoint.
    private func removeSpent(_ earlier: [BatchCheckpoint], saved: Set<String>) async throws {
        let others = Array(Set(earlier.flatMap(\.requestIds)).subtracting(saved))
        let stillRunning = others.isEmpty ? [] : Set(try await state.requests(ids: others).values.filter { $0.state == .running }.map(\.id))
        for checkpoint in earlier where !checkpoint.requestIds.contains(where: stillRunning.contains) {
            try await state.removeCheckpoint(id: checkpoint.id)
        }
    }

    /// `request` with this worker's lease, renewed now (nil without a lease).
    private func leased(_ request: ErasureRequest) -> ErasureRequest {
        var copy = request
        copy.lease = lease?.lease(at: engine.now())
        return copy
    }

    /// One statement of `rule` over the ids of every member given.
    func statement(_ rule: PolicyRule, _ members: [BatchMember], token: String? = nil) -> RuleStatement {
        var seen = Set<BSON>()
        let ids = members.flatMap { $0.ids(for: rule) }.filter { seen.insert($0).inserted }
        return RuleStatement(policy: rule.policy, rule: rule.rule, ids: ids, token: token)
    }
}

extension RuleProgress {
    /// Records what the rule did for one request: its counts, and that it is applied.
    mutating func record(_ count: RuleCount, of action: RuleAction) {
        matched = count.documents
        planned = action.isRetain ? 0 : count.documents
        switch action {
        case .delete: deleted += count.documents
        case .anonymize, .pull: modified += count.documents
        case .retain(let retention):
            retained = count.documents
            retainedKeys = count.keys.sorted()
            retainReason = retention.reason
            retainedUntil = count.dueAt
        }
        stage = .applied
    }

    /// Records the verification: `remaining` documents still need the action (nil for
    /// a rule that changes nothing). What the rule is said to have changed is what was
    /// counted less what is still there: a write that missed is not counted as done.
    mutating func verified(remaining left: Int?, of action: ActionKind) {
        remaining = left
        stage = (left ?? 0) == 0 ? .verified : .verificationFailed
        guard let left, left > 0 else { return }
        switch action {
        case .delete: deleted = max(deleted - left, 0)
        case .anonymize, .pull: modified = max(modified - left, 0)
        case .retain: break
        }
    }
}

extension ErasureRequest {
    /// The verdict after verification: done (the raw ids and the operator's free text
    /// go with the data), or failed with what is left where.
    mutating func conclude(at date: Date, verificationLimit: Int) throws {
        finishedAt = date
        let failures = rules.filter { $0.stage == .verificationFailed }
        if failures.isEmpty {
            try take(.finish)
            subject = nil
            reason = nil
        } else {
            try take(.fail, note: RequestNotes.verificationFailed(failures, limit: verificationLimit))
        }
    }
}
