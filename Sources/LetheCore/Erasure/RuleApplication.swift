import BSON
import Foundation

/// Carrying out one rule for the members of a batch, with as few commands as the
/// action allows, and the counts each member's receipt states.
extension Eraser {
    /// Applies `rule` to `members`; returns each member's counts (those counted before
    /// the write, or for `retain`, those counted while recording).
    func apply(_ rule: PolicyRule, to members: [BatchMember], counted: [String: RuleCount]) async throws -> [String: RuleCount] {
        let statement = statement(rule, members)
        switch rule.rule.action {
        case .anonymize(let anonymization) where !anonymization.pseudonymize.isEmpty || !anonymization.hash.isEmpty:
            guard let anonymizer = engine.anonymizer else { throw EngineError.keyMissing(policy: statement.policyName) }
            if anonymization.hash.isEmpty {
                try await pseudonymize(rule, members: members, namespace: statement.namespace)
            } else {
                try await hashEach(statement, rule: rule, members: members, anonymization: anonymization, anonymizer: anonymizer)
            }
        case .retain(let retention):
            return try await retain(statement, rule: rule, members: members, recording: retention.then != nil)
        default:
            // Bounded writes without reading `_id`s first: the members go in groups whose
            // counted documents fit in one write (`--batch-size`); a member with more
            // than that goes alone, in writes of documents picked by `_id`.
            for group in Self.writeGroups(members, counts: counted, limit: engine.options.batchSize) {
                let part = self.statement(rule, group)
                let planned = group.reduce(0) { $0 + (counted[$1.id]?.documents ?? 0) }
                _ = try await engine.write(part, expected: planned)
            }
        }
        return counted
    }

    /// Each member has their own token: one bulk write of per-user updates.
    private func pseudonymize(_ rule: PolicyRule, members: [BatchMember], namespace: Namespace) async throws {
        let updates: [UpdateStatement] = members.compactMap { member in
            let own = RuleStatement(policy: rule.policy, rule: rule.rule, ids: member.ids(for: rule), token: member.token)
            guard case .update(let update) = own.write else { return nil }
            return UpdateStatement(filter: own.pendingFilter, update: update, many: true)
        }
        for chunk in updates.chunked(into: engine.options.batchSize) {
            _ = try await engine.retrying { try await engine.data.bulkUpdate(namespace, chunk) }
        }
    }

    /// One cursor over the documents still needing the hash, each document updated
    /// with its owner's token, in bounded bulk writes.
    private func hashEach(_ statement: RuleStatement, rule: PolicyRule, members: [BatchMember],
                          anonymization: Anonymization, anonymizer: Anonymizer) async throws {
        guard case .hashEach(let fields, _, let unset) = statement.write else { return }
        var owner: [BSON: String] = [:]
        var sets: [String: BSONDocument] = [:]
        for member in members {
            for id in member.ids(for: rule) where owner[id] == nil { owner[id] = member.id }
            sets[member.id] = RuleStatement.anonymizePlan(anonymization, token: member.token).set
        }
        let (ownerMap, setMap, paths, data, namespace) = (owner, sets, rule.rule.match, engine.data, statement.namespace)
        try await engine.retrying {
            try await data.forEachBatch(namespace, filter: statement.pendingFilter, projection: Self.projection(fields + paths),
                                        batchSize: engine.options.streamingBatchSize) { documents in
                let updates: [UpdateStatement] = documents.compactMap { document in
                    guard let id = document["_id"],
                          let holder = paths.lazy.flatMap({ document.values(atPath: $0) }).compactMap({ ownerMap[$0] }).first,
                          let update = RuleStatement.hashUpdate(for: document, fields: fields, set: setMap[holder] ?? [:], unset: unset, anonymizer: anonymizer)
                    else { return nil }
                    return UpdateStatement(filter: ["_id": id], update: update)
                }
                if !updates.isEmpty { _ = try await data.bulkUpdate(namespace, updates) }
            }
        }
    }

    /// Retention for a batch, in one read of the retained documents: per member, how
    /// many are kept and until when; with `recording`, each goes to the ledger of
    /// documents whose `then` falls due later (attributed to one member holding it).
    private func retain(_ statement: RuleStatement, rule: PolicyRule, members: [BatchMember], recording: Bool) async throws -> [String: RuleCount] {
        let owners = Self.owners(members, rule: rule)
        let tokens = Dictionary(uniqueKeysWithValues: members.map { ($0.id, $0.token) })
        let until = statement.retainUntil
        let (paths, ledger, data) = (rule.rule.match, engine.state, engine.data)
        let (policy, ruleIndex, namespace) = (statement.policyName, rule.rule.index, statement.namespace)
        let counter = AttributionCounter()
        let keys = SubjectPseudonymizer(key: try await engine.state.subjectKey())
        let namespaceName = "\(namespace)"
        // Ledger entries are recorded 2,500 documents at a time: one insert for a batch
        // of 500 requests keeping five documents each. Gathering 10,000 cost 8 MiB more
        // peak memory for one user keeping 20,000 (docs/benchmarks.md).
        let pending = LedgerBuffer(flushAt: 2_500)
        try await engine.retrying {
            counter.reset()
            pending.reset()
            try await data.forEachBatch(namespace, filter: statement.matchFilter, projection: Self.projection(paths + (until.map { [$0.field] } ?? [])),
                                        batchSize: engine.options.streamingBatchSize) { documents in
                var local: [String: RuleCount] = [:]
                var entries: [RetainedDocument] = []
                for document in documents {
                    let key = document["_id"].map { keys.documentKey(namespace: namespaceName, id: $0) }
                    let (holders, due) = Self.count(document, paths: paths, until: until, owners: owners, key: key, into: &local)
                    if recording, let due, let id = document["_id"], let owner = holders.min() {
                        entries.append(RetainedDocument(requestId: owner, policy: policy, ruleIndex: ruleIndex, namespace: namespace,
                                                        documentId: id, dueAt: due, token: tokens[owner] ?? nil))
                    }
                }
                if let full = pending.add(entries) { try await ledger.recordRetained(full) }
                counter.merge(local)
            }
            if let rest = pending.add([], flush: true) { try await ledger.recordRetained(rest) }
        }
        return counter.value
    }

    /// `members` split, in order, into groups whose counted documents add up to at
    /// most `limit` (a member counted above it makes a group of its own).
    static func writeGroups(_ members: [BatchMember], counts: [String: RuleCount], limit: Int) -> [[BatchMember]] {
        var groups: [[BatchMember]] = []
        var current: [BatchMember] = []
        var size = 0
        for member in members {
            let documents = counts[member.id]?.documents ?? 0
            if !current.isEmpty, size + documents > limit {
                groups.append(current)
                (current, size) = ([], 0)
            }
            current.append(member)
            size += documents
        }
        if !current.isEmpty { groups.append(current) }
        return groups
    }
}

extension ErasureEngine {
    /// Carries out a statement's set-based write (delete, update, pull) over every
    /// document it still covers; returns the documents written. Runs once when
    /// `expected` fits one write, otherwise in writes of `batchSize` documents picked by
    /// `_id`. `batchDone` hears the documents written so far after each write.
    func write(_ statement: RuleStatement, expected: Int, batchDone: (@Sendable (Int) -> Void)? = nil) async throws -> Int {
        let ns = statement.namespace
        switch statement.write {
        case .delete:
            return try await inBatches(ns, filter: statement.pendingFilter, expected: expected, batchDone: batchDone) { filter in
                try await data.deleteMany(ns, filter: filter)
            }
        case .update(let update):
            return try await inBatches(ns, filter: statement.pendingFilter, expected: expected, batchDone: batchDone) { filter in
                try await data.updateMany(ns, filter: filter, update: update).modified
            }
        case .pull(let pulls):
            return try await oneAfterAnother(ns, pulls.map(\.filter), expected: expected, batchDone: batchDone) { index, filter in
                try await data.updateMany(ns, filter: filter, update: pulls[index].update).modified
            }
        case .elements(let writes):
            return try await oneAfterAnother(ns, writes.map(\.filter), expected: expected, batchDone: batchDone) { index, filter in
                try await data.updateMany(ns, filter: filter, update: writes[index].update, arrayFilters: writes[index].arrayFilters).modified
            }
        case .hashEach(let fields, let set, let unset):
            guard let anonymizer else { throw EngineError.keyMissing(policy: statement.policyName) }
            let total = ModifiedCounter()
            try await retrying {
                try await data.forEachBatch(ns, filter: statement.pendingFilter, projection: Eraser.projection(fields),
                                            batchSize: options.streamingBatchSize) { documents in
                    let updates: [UpdateStatement] = documents.compactMap { document in
                        guard let id = document["_id"],
                              let update = RuleStatement.hashUpdate(for: document, fields: fields, set: set, unset: unset, anonymizer: anonymizer)
                        else { return nil }
                        return UpdateStatement(filter: ["_id": id], update: update)
                    }
                    guard !updates.isEmpty else { return }
                    total.add(try await data.bulkUpdate(ns, updates).modified)
                    batchDone?(total.value)
                }
            }
            return total.value
        case .none:
            return 0
        }
    }

    /// Several writes, one after another, each `inBatches` over its own filter;
    /// `batchDone` hears the documents written by all of them so far.
    private func oneAfterAnother(_ ns: Namespace, _ filters: [BSONDocument], expected: Int, batchDone: (@Sendable (Int) -> Void)?,
                                 _ write: (_ index: Int, BSONDocument) async throws -> Int) async throws -> Int {
        var total = 0
        for (index, filter) in filters.enumerated() {
            let before = total
            total += try await inBatches(ns, filter: filter, expected: expected,
                                         batchDone: batchDone.map { done in { @Sendable written in done(before + written) } }) { batch in
                try await write(index, batch)
            }
        }
        return total
    }

    /// Runs `write` once over `filter` when the set is small; otherwise in batches of
    /// `batchSize` documents picked by `_id`, until none is left.
    private func inBatches(_ ns: Namespace, filter: BSONDocument, expected: Int, batchDone: (@Sendable (Int) -> Void)?,
                           _ write: (BSONDocument) async throws -> Int) async throws -> Int {
        if expected <= options.batchSize {
            let written = try await retrying { try await write(filter) }
            batchDone?(written)
            return written
        }
        var total = 0
        while true {
            let ids = try await retrying { try await data.ids(ns, filter: filter, limit: options.batchSize) }
            if ids.isEmpty { break }
            let batch = RuleStatement.allOf([filter, ["_id": ["$in": .array(ids)]]])
            total += try await retrying { try await write(batch) }
            batchDone?(total)
            if ids.count < options.batchSize { break }
        }
        return total
    }
}

/// Counts across the concurrent closure of a streamed batch loop.
final class ModifiedCounter: @unchecked Sendable {
    // @unchecked: `forEachBatch` calls its body serially; the lock is for the compiler's
    // benefit and for any store that might not.
    private let lock = NSLock()
    private var total = 0
    func add(_ count: Int) { lock.withLock { total += count } }
    func reset() { lock.withLock { total = 0 } }
    var value: Int { lock.withLock { total } }
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
