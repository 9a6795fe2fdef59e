import BSON
import Foundation

/// Backlogs: many requests erased together. Per rule, one set-based write serves every
/// request of the batch (`$in` of all their ids), while each request still gets its
/// own exact counts: before the write, one read attributes each document still needing
/// the action to the requests whose ids it holds (grouped by the server where it can).
/// Bookkeeping is batched as well: the requests are saved when the batch starts and
/// when it ends; in between, each rule's counts go to one small checkpoint document,
/// and the audit entries are written together at the end.
extension ErasureEngine {
    /// Runs a batch of requests as far as each can go (like `process`, for many).
    /// A batch of one goes through `process`.
    public func processBatch(_ claimed: [ErasureRequest]) async throws -> [ErasureRequest] {
        guard claimed.count > 1 else {
            var done: [ErasureRequest] = []
            for request in claimed { done.append(try await process(request)) }
            return done
        }
        var requests = claimed
        let ruleRefs = self.ruleRefs
        // Rules an interrupted run of these requests applied come back from its checkpoint.
        let earlier = try await state.checkpoints(requestIds: requests.map(\.id))
        for index in requests.indices where requests[index].state == .running && rulesMatch(requests[index]) {
            for checkpoint in earlier {
                for rule in checkpoint.restore(into: &requests[index]) {
                    if case .retain(let retention) = ruleRefs[rule].rule.action { requests[index].rules[rule].retainReason = retention.reason }
                }
            }
        }
        let held = try await state.heldSubjects(among: requests.map(\.subjectPseudonym))
        var bindings: [Int: [[BSON]]] = [:]  // request index -> ids per policy
        var subjects: [Int: ErasureSubject] = [:]
        for index in requests.indices {
            var request = requests[index]
            defer { requests[index] = request }
            guard request.state != .done else { continue }
            guard let subject = request.subject?.subject else {
                request.state = .failed
                request.note = EngineError.subjectMissing(request.id).description
                continue
            }
            if held.contains(request.subjectPseudonym) {
                let hold = try await state.activeHold(subjectPseudonym: request.subjectPseudonym)
                request.state = try RequestLifecycle.next(request.state == .running ? .received : request.state, on: .holdFound)
                // The hold's reason is an operator's free text: it stays with the hold.
                request.note = "waiting: legal hold \(hold?.id ?? "") covers this user; nothing was changed (`lethe hold list` shows why)"
                continue
            }
            if request.state == .held { request.state = try RequestLifecycle.next(.held, on: .holdLifted) }
            if request.state == .failed { request.state = try RequestLifecycle.next(.failed, on: .retry) }
            let perPolicy: [[BSON]]
            do { perPolicy = try self.bindings(of: subject) } catch {
                request.state = .failed
                request.note = "\(error)"
                continue
            }
            guard rulesMatch(request) else {
                request.state = .failed
                request.note = Self.policiesChangedNote(request)
                continue
            }
            bindings[index] = perPolicy
            subjects[index] = subject
        }
        var active = bindings.keys.sorted()

        // Count, per request, what each rule covers: the guard rail and the receipts.
        var attributed: [[Int: RuleCount]] = []
        for (ruleNumber, ref) in ruleRefs.enumerated() {
            let pending = active.filter { requests[$0].rules[ruleNumber].stage == .pending }
            // Retained documents count for the receipt, not for the guard rail: they are
            // counted while they are recorded, in one read.
            guard !pending.isEmpty, !ref.rule.action.isRetain else {
                attributed.append([:])
                continue
            }
            let statement = combined(ref, pending, bindings)
            attributed.append(try await attribute(statement, ref: ref, active: pending, bindings: bindings, filter: statement.pendingFilter))
        }
        var approved: [Int] = []
        for index in active {
            let total = zip(ruleRefs, attributed).reduce(0) { sum, pair in
                pair.0.rule.action.isRetain ? sum : sum + (pair.1[index]?.documents ?? 0)
            }
            if requests[index].startedAt == nil, total > documentLimit, !requests[index].approved {
                requests[index].state = try RequestLifecycle.next(requests[index].state, on: .overLimit)
                requests[index].note = "waiting for approval: it would change \(total) documents, more than the limit of \(documentLimit); run `lethe approve \(requests[index].id)` to let it run"
                continue
            }
            approved.append(index)
        }
        active = approved
        let started = now()
        var entries: [AuditEntry] = claimed.indices.compactMap { index in
            switch requests[index].state {
            case .held: AuditEntry.about(requests[index], .held, at: started, note: requests[index].note)
            case .needsApproval: AuditEntry.about(requests[index], .needsApproval, at: started, note: requests[index].note)
            case .failed: AuditEntry.about(requests[index], .failed, at: started, note: requests[index].note)
            default: nil
            }
        }
        for index in active {
            requests[index].state = try RequestLifecycle.next(requests[index].state == .needsApproval ? .received : requests[index].state, on: .start)
            requests[index].startedAt = requests[index].startedAt ?? started
            requests[index].attempts += 1
            requests[index].note = nil
            entries.append(AuditEntry.about(requests[index], .started, at: started, note: "attempt \(requests[index].attempts), in a batch of \(active.count)"))
        }
        // Those that start are marked in one small update (their full record is saved
        // at the end, their start time kept by the checkpoint meanwhile); those that
        // wait or failed are saved now.
        let waiting = requests.filter { [.held, .needsApproval, .failed].contains($0.state) }
        if !waiting.isEmpty { try await state.saveAll(waiting) }
        try await state.markStarted(requestIds: active.map { requests[$0].id }, lease: nil)
        try await state.appendAudit(entries)

        var checkpoint = BatchCheckpoint(requestIds: active.map { requests[$0].id }, startedAt: started)
        do {
            for (ruleNumber, ref) in ruleRefs.enumerated() {
                let pending = active.filter { requests[$0].rules[ruleNumber].stage == .pending }
                guard !pending.isEmpty else { continue }
                try await applyCombined(ref, ruleNumber: ruleNumber, requests: &requests, active: pending,
                                        bindings: bindings, subjects: subjects, counts: attributed[ruleNumber])
                checkpoint.record(rule: ruleNumber, of: pending.map { requests[$0] })
                try await state.saveCheckpoint(checkpoint)
            }
            // Verification: one query per rule for the whole batch; leftovers, if any,
            // are attributed so that only the requests they belong to fail.
            for (ruleNumber, ref) in ruleRefs.enumerated() {
                let statement = combined(ref, active, bindings)
                var leftovers: [Int: RuleCount] = [:]
                if !ref.rule.action.isRetain {
                    let left = try await retrying { try await data.ids(statement.namespace, filter: statement.pendingFilter, limit: options.verificationLimit) }
                    if !left.isEmpty {
                        let narrowed = RuleStatement.allOf([statement.pendingFilter, ["_id": ["$in": .array(left)]]])
                        leftovers = try await attribute(statement, ref: ref, active: active, bindings: bindings, filter: narrowed)
                    }
                }
                for index in active {
                    let remaining = leftovers[index]?.documents ?? 0
                    requests[index].rules[ruleNumber].remaining = ref.rule.action.isRetain ? nil : remaining
                    requests[index].rules[ruleNumber].stage = remaining == 0 ? .verified : .verificationFailed
                }
            }
        } catch let lost as LeaseLost {
            throw lost
        } catch {
            for index in active {
                requests[index].state = .failed
                requests[index].note = "stopped by an error, progress kept (run it again to resume): \(error)"
            }
            // The requests now hold the progress themselves: the checkpoint has served.
            try await state.saveAll(requests)
            try await state.appendAudit(active.map { AuditEntry.closing(requests[$0], at: now()) })
            try await removeCheckpoints([checkpoint] + earlier, finished: Set(active.map { requests[$0].id }))
            return requests
        }

        let finished = now()
        var receipts: [Receipt] = []
        for index in active {
            try conclude(&requests[index])
            requests[index].finishedAt = finished
            receipts.append(Receipt(request: requests[index], finishedAt: finished))
            if requests[index].state == .done { requests[index].subject = nil }
        }
        if !receipts.isEmpty { try await state.saveReceipts(receipts) }
        try await state.appendAudit(active.flatMap { Self.closingEntries(requests[$0], at: finished) })
        try await state.saveAll(requests, releasingLeases: true)
        for index in requests.indices { requests[index].lease = nil }
        try await removeCheckpoints([checkpoint] + earlier, finished: Set(requests.map(\.id)))
        logger.info("batch finished", metadata: [
            "lethe.requests": .stringConvertible(requests.count),
            "lethe.done": .stringConvertible(requests.filter { $0.state == .done }.count),
        ])
        return requests
    }

    /// Removes the checkpoints whose requests have all been saved with their progress
    /// (an earlier one may also hold requests of another batch: it stays for them).
    private func removeCheckpoints(_ checkpoints: [BatchCheckpoint], finished: Set<String>) async throws {
        for checkpoint in checkpoints where !checkpoint.applied.isEmpty && checkpoint.requestIds.allSatisfy(finished.contains) {
            try await state.removeCheckpoint(id: checkpoint.id)
        }
    }


    /// What one rule covers for one request.
    struct RuleCount: Sendable {
        var documents = 0
        /// With `until`: the latest date `then` falls due.
        var dueAt: Date?
    }

    /// One statement over the ids of every request in `active`.
    func combined(_ ref: (policy: Int, rule: ErasureRule), _ active: [Int], _ bindings: [Int: [[BSON]]]) -> RuleStatement {
        var seen = Set<BSON>()
        let ids = active.flatMap { bindings[$0]?[ref.policy] ?? [] }.filter { seen.insert($0).inserted }
        return RuleStatement(policy: policies[ref.policy], rule: ref.rule, ids: ids, token: nil)
    }

    /// Counts, per request, the documents matching `filter` that hold one of its ids
    /// (each document once per request). Where it can, the server groups the documents
    /// by their match field and sends one line per distinct value (about one per user)
    /// rather than every document; otherwise the match fields are read.
    func attribute(_ statement: RuleStatement, ref: (policy: Int, rule: ErasureRule), active: [Int],
                   bindings: [Int: [[BSON]]], filter: BSONDocument) async throws -> [Int: RuleCount] {
        var owners: [BSON: [Int]] = [:]
        for index in active { for id in bindings[index]?[ref.policy] ?? [] { owners[id, default: []].append(index) } }
        let paths = ref.rule.match
        let until = statement.retainUntil
        let attributionFilter = ref.rule.action.isRetain ? statement.matchFilter : filter
        let counter = AttributionCounter()
        let ownerMap = owners
        // Grouping serves one match field without dates. ObjectIds are read: a `$match`
        // on them inside an aggregation finds nothing on some servers (docs/test-server.md).
        if paths.count == 1, until == nil, !owners.keys.contains(where: { $0.objectIdValue != nil }),
           let grouped = try await attributeGrouped(statement, path: paths[0], owners: ownerMap, filter: attributionFilter) {
            return grouped
        }
        var projection: BSONDocument = ["_id": 1]
        for path in paths + (until.map { [$0.field] } ?? []) { projection[String(path.prefix { $0 != "." })] = 1 }
        try await retrying {
            counter.reset()
            try await data.forEachBatch(statement.namespace, filter: attributionFilter, projection: projection, batchSize: max(options.batchSize, 1_000)) { documents in
                var local: [Int: RuleCount] = [:]
                for document in documents { _ = Self.count(document, paths: paths, until: until, owners: ownerMap, into: &local) }
                counter.merge(local)
            }
        }
        return counter.value
    }

    /// `attribute` by a `$group` on the match field. Every group must name an id it was
    /// filtered by; a server that groups arrays or nested paths differently leaves some
    /// documents unnamed, and then nil says to read them instead.
    private func attributeGrouped(_ statement: RuleStatement, path: String, owners: [BSON: [Int]],
                                  filter: BSONDocument) async throws -> [Int: RuleCount]? {
        let pipeline: [BSONDocument] = [["$match": .document(filter)], ["$group": ["_id": .string("$" + path), "n": ["$sum": 1]]]]
        let counter = AttributionCounter()
        let unnamed = ModifiedCounter()
        try await retrying {
            counter.reset()
            unnamed.reset()
            try await data.forEachResult(statement.namespace, pipeline: pipeline, batchSize: max(options.batchSize, 1_000)) { groups in
                var local: [Int: RuleCount] = [:]
                for group in groups {
                    guard let documents = group["n"]?.intValue else { continue }
                    var holders = Set<Int>()
                    let key = group["_id"] ?? .null
                    for value in [key] + (key.arrayValue ?? []) { holders.formUnion(owners[value] ?? []) }
                    if holders.isEmpty { unnamed.add(documents) }
                    for holder in holders { local[holder, default: RuleCount()].documents += documents }
                }
                counter.merge(local)
            }
        }
        return unnamed.value == 0 ? counter.value : nil
    }

    /// Counts `document` for each request holding one of its match values (once per
    /// request), with the date its `then` falls due; returns those requests and the date.
    static func count(_ document: BSONDocument, paths: [String], until: RetentionDeadline?, owners: [BSON: [Int]],
                      into counts: inout [Int: RuleCount]) -> (holders: Set<Int>, due: Date?) {
        var holders = Set<Int>()
        for path in paths {
            for value in document.values(atPath: path) { holders.formUnion(owners[value] ?? []) }
        }
        var due: Date?
        if let until, case .datetime(let date)? = document.value(atPath: until.field) {
            due = until.after.added(to: date.date)
        }
        for holder in holders {
            counts[holder, default: RuleCount()].documents += 1
            if let due, due > (counts[holder]?.dueAt ?? .distantPast) { counts[holder]?.dueAt = due }
        }
        return (holders, due)
    }

    /// Carries out one rule for the requests in `active` with as few commands as the
    /// action allows, and records each request's counts.
    func applyCombined(_ ref: (policy: Int, rule: ErasureRule), ruleNumber: Int, requests: inout [ErasureRequest], active: [Int],
                       bindings: [Int: [[BSON]]], subjects: [Int: ErasureSubject], counts attributed: [Int: RuleCount]) async throws {
        let statement = combined(ref, active, bindings)
        var counts = attributed
        switch ref.rule.action {
        case .anonymize(let anonymization) where !anonymization.pseudonymize.isEmpty || !anonymization.hash.isEmpty:
            // Each user has their own token: one bulk write of per-user updates.
            guard let anonymizer else { throw EngineError.keyMissing(policy: statement.policyName) }
            if anonymization.hash.isEmpty {
                let updates: [UpdateStatement] = active.compactMap { index in
                    guard let subject = subjects[index], let ids = bindings[index]?[ref.policy] else { return nil }
                    let own = RuleStatement(policy: policies[ref.policy], rule: ref.rule, ids: ids, token: anonymizer.token(for: subject))
                    guard case .update(let update) = own.write else { return nil }
                    return UpdateStatement(filter: own.pendingFilter, update: update, many: true)
                }
                for chunk in updates.chunked(into: max(options.batchSize, 1)) {
                    _ = try await retrying { try await data.bulkUpdate(statement.namespace, chunk) }
                }
            } else {
                try await hashCombined(statement, ref: ref, active: active, bindings: bindings, subjects: subjects, anonymization: anonymization, anonymizer: anonymizer)
            }
        case .retain(let retention):
            counts = try await retainCombined(statement, ref: ref, active: active, bindings: bindings,
                                              requestIds: requests.map(\.id), subjects: subjects, recording: retention.then != nil)
        default:
            // Bounded writes without reading `_id`s first: the requests go in groups whose
            // counted documents fit in one write (`--batch-size`); a request with more than
            // that goes alone, in writes of documents picked by `_id`.
            for group in Self.writeGroups(active, counts: counts, limit: options.batchSize) {
                let part = combined(ref, group, bindings)
                let planned = group.reduce(0) { $0 + (counts[$1]?.documents ?? 0) }
                var progress = RuleProgress(policy: part.policyName, ruleIndex: ref.rule.index, namespace: part.namespace.description, action: part.actionName)
                progress.planned = planned
                progress.matched = planned
                try await apply(part, progress: &progress)
            }
        }
        for index in active {
            let count = counts[index] ?? RuleCount()
            requests[index].rules[ruleNumber].matched = count.documents
            requests[index].rules[ruleNumber].planned = ref.rule.action.isRetain ? 0 : count.documents
            switch ref.rule.action {
            case .delete: requests[index].rules[ruleNumber].deleted += count.documents
            case .anonymize, .pull: requests[index].rules[ruleNumber].modified += count.documents
            case .retain(let retention):
                requests[index].rules[ruleNumber].retained = count.documents
                requests[index].rules[ruleNumber].retainReason = retention.reason
                requests[index].rules[ruleNumber].retainedUntil = count.dueAt
            }
            requests[index].rules[ruleNumber].stage = .applied
        }
    }

    /// `active` split, in order, into groups whose counted documents add up to at most
    /// `limit` (a request counted above it makes a group of its own).
    static func writeGroups(_ active: [Int], counts: [Int: RuleCount], limit: Int) -> [[Int]] {
        var groups: [[Int]] = []
        var current: [Int] = []
        var size = 0
        for index in active {
            let documents = counts[index]?.documents ?? 0
            if !current.isEmpty, size + documents > limit {
                groups.append(current)
                (current, size) = ([], 0)
            }
            current.append(index)
            size += documents
        }
        if !current.isEmpty { groups.append(current) }
        return groups
    }

    /// Retention for a batch, in one read of the retained documents: per request, how
    /// many are kept and until when; with `recording`, each goes to the ledger of
    /// documents whose `then` falls due later (attributed to one request holding it).
    func retainCombined(_ statement: RuleStatement, ref: (policy: Int, rule: ErasureRule), active: [Int],
                                bindings: [Int: [[BSON]]], requestIds: [String], subjects: [Int: ErasureSubject],
                                recording: Bool) async throws -> [Int: RuleCount] {
        var owners: [BSON: [Int]] = [:]
        var tokens: [Int: String] = [:]
        for index in active {
            for id in bindings[index]?[ref.policy] ?? [] { owners[id, default: []].append(index) }
            if let subject = subjects[index], let anonymizer { tokens[index] = anonymizer.token(for: subject) }
        }
        let until = statement.retainUntil
        var projection: BSONDocument = ["_id": 1]
        for path in ref.rule.match + (until.map { [$0.field] } ?? []) { projection[String(path.prefix { $0 != "." })] = 1 }
        let (ownerMap, tokenMap, paths, state) = (owners, tokens, ref.rule.match, self.state)
        let (policy, ruleIndex, namespace) = (statement.policyName, ref.rule.index, statement.namespace)
        let counter = AttributionCounter()
        // Ledger entries are recorded 2,500 documents at a time: one insert for a batch
        // of 500 requests keeping five documents each. Gathering 10,000 cost 8 MiB more
        // peak memory for one user keeping 20,000 (docs/benchmarks.md).
        let pending = LedgerBuffer(flushAt: 2_500)
        try await retrying {
            counter.reset()
            pending.reset()
            try await data.forEachBatch(namespace, filter: statement.matchFilter, projection: projection, batchSize: options.streamingBatchSize) { documents in
                var local: [Int: RuleCount] = [:]
                var entries: [RetainedDocument] = []
                for document in documents {
                    let (holders, due) = Self.count(document, paths: paths, until: until, owners: ownerMap, into: &local)
                    if recording, let due, let id = document["_id"], let owner = holders.min() {
                        entries.append(RetainedDocument(requestId: requestIds[owner], policy: policy, ruleIndex: ruleIndex, namespace: namespace,
                                                        documentId: id, dueAt: due, token: tokenMap[owner]))
                    }
                }
                if let full = pending.add(entries) { try await state.recordRetained(full) }
                counter.merge(local)
            }
            if let rest = pending.add([], flush: true) { try await state.recordRetained(rest) }
        }
        return counter.value
    }

    /// Hashing for a batch: one cursor over the documents still needing it, each
    /// document updated with its owner's token, in bounded bulk writes.
    private func hashCombined(_ statement: RuleStatement, ref: (policy: Int, rule: ErasureRule), active: [Int],
                              bindings: [Int: [[BSON]]], subjects: [Int: ErasureSubject],
                              anonymization: Anonymization, anonymizer: Anonymizer) async throws {
        guard case .hashEach(let fields, _, let unset) = statement.write else { return }
        var owner: [BSON: Int] = [:]
        var sets: [Int: BSONDocument] = [:]
        for index in active {
            for id in bindings[index]?[ref.policy] ?? [] where owner[id] == nil { owner[id] = index }
            if let subject = subjects[index] {
                sets[index] = RuleStatement.anonymizePlan(anonymization, token: anonymizer.token(for: subject)).set
            }
        }
        var projection: BSONDocument = ["_id": 1]
        for path in fields + ref.rule.match { projection[String(path.prefix { $0 != "." })] = 1 }
        let (ownerMap, setMap, paths) = (owner, sets, ref.rule.match)
        try await retrying {
            try await data.forEachBatch(statement.namespace, filter: statement.pendingFilter, projection: projection, batchSize: options.streamingBatchSize) { documents in
                let updates: [UpdateStatement] = documents.compactMap { document in
                    guard let id = document["_id"],
                          let holder = paths.lazy.flatMap({ document.values(atPath: $0) }).compactMap({ ownerMap[$0] }).first,
                          let update = RuleStatement.hashUpdate(for: document, fields: fields, set: setMap[holder] ?? [:], unset: unset, anonymizer: anonymizer)
                    else { return nil }
                    return UpdateStatement(filter: ["_id": id], update: update)
                }
                if !updates.isEmpty { _ = try await data.bulkUpdate(statement.namespace, updates) }
            }
        }
    }
}

/// Ledger entries gathered from streamed batches until there are enough to record.
final class LedgerBuffer: @unchecked Sendable {
    // @unchecked: guarded by the lock.
    private let lock = NSLock()
    private let flushAt: Int
    private var entries: [RetainedDocument] = []

    init(flushAt: Int) { self.flushAt = flushAt }

    func reset() { lock.withLock { entries = [] } }

    /// Adds `more`; returns everything gathered, emptied, once it reaches `flushAt`
    /// (or with `flush`, when there is anything).
    func add(_ more: [RetainedDocument], flush: Bool = false) -> [RetainedDocument]? {
        lock.withLock {
            entries += more
            guard !entries.isEmpty, flush || entries.count >= flushAt else { return nil }
            defer { entries = [] }
            return entries
        }
    }
}

/// Per-request counts gathered from streamed batches.
final class AttributionCounter: @unchecked Sendable {
    // @unchecked: guarded by the lock.
    private let lock = NSLock()
    private var counts: [Int: ErasureEngine.RuleCount] = [:]

    func reset() { lock.withLock { counts = [:] } }

    func merge(_ local: [Int: ErasureEngine.RuleCount]) {
        lock.withLock {
            for (index, count) in local {
                var current = counts[index] ?? ErasureEngine.RuleCount()
                current.documents += count.documents
                if let due = count.dueAt, due > (current.dueAt ?? .distantPast) { current.dueAt = due }
                counts[index] = current
            }
        }
    }

    var value: [Int: ErasureEngine.RuleCount] { lock.withLock { counts } }
}

extension RuleAction {
    var isRetain: Bool { if case .retain = self { true } else { false } }
}

extension BSONDocument {
    /// Every value at a dotted path, fanning out over arrays the way MongoDB matches
    /// them (`members` of `["a", "b"]` gives "a" and "b"; `tags.id` of an array of
    /// sub-documents gives each `id`).
    func values(atPath path: String) -> [BSON] {
        var current: [BSON] = [.document(self)]
        for component in path.split(separator: ".", omittingEmptySubsequences: false).map(String.init) {
            var next: [BSON] = []
            for value in current {
                switch value {
                case .document(let document):
                    if let child = document[component] { next.append(child) }
                case .array(let array):
                    for element in array {
                        if case .document(let document) = element, let child = document[component] { next.append(child) }
                    }
                default:
                    break
                }
            }
            current = next
        }
        return current.flatMap { value -> [BSON] in
            if case .array(let elements) = value { return [value] + elements }
            return [value]
        }
    }
}

extension Array {
    func chunked(into size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
