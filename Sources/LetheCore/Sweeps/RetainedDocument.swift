import BSON
import Foundation

/// A document kept by a `retain` rule with `until` and `then`: when it falls due, the
/// sweep applies `then` to it. By then the user's ids are gone, so what is kept here is
/// the document's `_id`, the due date, and the user's keyed token (for `pseudonymize`):
/// no personal data.
public struct RetainedDocument: Sendable, Hashable {
    public var requestId: String
    public var policy: String
    public var ruleIndex: Int
    public var namespace: Namespace
    public var documentId: BSON
    public var dueAt: Date
    /// The user's pseudonym token, for a `then` that pseudonymizes.
    public var token: String?
    /// The entry's own id in the ledger, once stored.
    public var ledgerId: BSON?

    public init(requestId: String, policy: String, ruleIndex: Int, namespace: Namespace, documentId: BSON, dueAt: Date,
                token: String?, ledgerId: BSON? = nil) {
        self.requestId = requestId
        self.policy = policy
        self.ruleIndex = ruleIndex
        self.namespace = namespace
        self.documentId = documentId
        self.dueAt = dueAt
        self.token = token
        self.ledgerId = ledgerId
    }
}

/// The retained documents whose `then` has fallen due: part of the retention sweep.
struct RetainedDue: Sendable {
    let engine: ErasureEngine

    /// Applies `then` to retained documents that have fallen due, in batches; with
    /// `dryRun`, only counts them. One sweep line per rule.
    func apply(at now: Date, dryRun: Bool) async throws -> [SweepReport.Rule] {
        var lines: [String: SweepReport.Rule] = [:]
        var seen = Set<String>()
        while true {
            let due = try await engine.state.dueRetained(at: now, limit: engine.options.batchSize)
            guard !due.isEmpty else { break }
            // Each pass must make progress: an entry seen twice was not forgotten, and
            // looping on it would apply `then` again and again. (One document may be in
            // two entries of its request, after a rerun: each is forgotten in its turn.)
            let keys = due.map { "\($0.ledgerId.map { "\($0)" } ?? "")#\($0.policy)#\($0.ruleIndex)#\($0.namespace)#\($0.documentId)" }
            guard seen.isDisjoint(with: keys) else {
                throw EngineError.retainedNotForgotten(due.count)
            }
            seen.formUnion(keys)
            var done: [RetainedDocument] = []
            for group in Dictionary(grouping: due, by: { "\($0.policy)#\($0.ruleIndex)" }).values {
                let first = group[0]
                guard let policy = engine.policies.first(where: { $0.name == first.policy }),
                      let rule = policy.rules.first(where: { $0.index == first.ruleIndex }),
                      case .retain(let retention) = rule.action, let then = retention.then else {
                    // The policy no longer says what to do: keep the entries for a human.
                    engine.logger.warning("retained documents fell due under a rule that no longer has `then`", metadata: [LogKey.policy: .string(first.policy)])
                    continue
                }
                var line = lines["\(first.policy)#\(first.ruleIndex)"] ?? SweepReport.Rule(
                    policy: first.policy, ruleIndex: first.ruleIndex, namespace: first.namespace.description,
                    action: .then(then.kind)
                )
                line.matched += group.count
                if !dryRun {
                    let counts = try await applyThen(then, to: group)
                    line.deleted += counts.deleted
                    line.modified += counts.modified
                    done += group
                }
                lines["\(first.policy)#\(first.ruleIndex)"] = line
            }
            if dryRun || done.isEmpty { break }
            try await engine.state.forgetRetained(done)
        }
        return lines.values.sorted { ($0.policy, $0.ruleIndex) < ($1.policy, $1.ruleIndex) }
    }

    private func applyThen(_ then: RuleAction, to group: [RetainedDocument]) async throws -> (deleted: Int, modified: Int) {
        let namespace = group[0].namespace
        switch then {
        case .delete:
            var deleted = 0
            for filter in engine.data.idFilters(group.map(\.documentId)) {
                deleted += try await engine.retrying { try await engine.data.deleteMany(namespace, filter: filter) }
            }
            return (deleted, 0)
        case .anonymize(let anonymization):
            // One update per user token (the same token for all of one user's documents).
            var updates: [UpdateStatement] = []
            for (token, documents) in Dictionary(grouping: group, by: { $0.token ?? "" }) {
                let plan = RuleStatement.anonymizePlan(anonymization, token: token.isEmpty ? nil : token)
                for ids in engine.data.idFilters(documents.map(\.documentId)) {
                    if anonymization.hash.isEmpty {
                        updates.append(UpdateStatement(filter: ids, update: plan.update, many: true))
                    } else if let anonymizer = engine.anonymizer {
                        var projection: BSONDocument = ["_id": 1]
                        for field in anonymization.hash { projection[String(field.prefix { $0 != "." })] = 1 }
                        try await engine.data.forEachBatch(namespace, filter: ids, projection: projection, batchSize: engine.options.streamingBatchSize) { docs in
                            let perDocument: [UpdateStatement] = docs.compactMap { doc in
                                guard let id = doc["_id"], let update = RuleStatement.hashUpdate(for: doc, fields: anonymization.hash, set: plan.set, unset: anonymization.unset, anonymizer: anonymizer) else { return nil }
                                return UpdateStatement(filter: ["_id": id], update: update)
                            }
                            if !perDocument.isEmpty { _ = try await engine.data.bulkUpdate(namespace, perDocument) }
                        }
                    } else {
                        throw EngineError.keyMissing(policy: group[0].policy)
                    }
                }
            }
            let counts = updates.isEmpty ? WriteCounts(matched: group.count, modified: group.count)
                : try await engine.retrying { try await engine.data.bulkUpdate(namespace, updates) }
            return (0, counts.modified)
        case .pull, .retain:
            // The loader refuses these as `then` of a retained document (a pull needs
            // the user's ids, which are gone).
            return (0, 0)
        }
    }
}
