import BSON
import Foundation
import Logging

/// The retention sweep: every policy's `retention` rules at the sweep's start (documents
/// older than the period deleted or anonymized, in bounded batches), then the `then`
/// of retained documents whose time has come.
public struct RetentionSweeper: Sendable {
    let engine: ErasureEngine

    /// Sweeps; with `dryRun`, only counts. `progress` hears each rule when it is done;
    /// `batchDone`, each rule's documents written so far out of those matched, after
    /// every bounded batch (for a progress bar: the sweeper itself draws nothing).
    public func sweep(dryRun: Bool, progress: @Sendable (SweepReport.Rule) -> Void = { _ in },
                      batchDone: @escaping @Sendable (SweepProgress) -> Void = { _ in }) async throws -> SweepReport {
        let started = engine.now()
        var report = SweepReport(kind: .retention, dryRun: dryRun, startedAt: started, finishedAt: started, rules: [])
        for policy in engine.policies {
            for retention in policy.retention {
                let cutoff = BSONDatetime(retention.olderThan.subtracted(from: started))
                let line = try await sweep(RuleStatement(policy: policy, retention: retention, cutoff: cutoff), cutoff: cutoff,
                                           dryRun: dryRun, batchDone: batchDone)
                report.rules.append(line)
                progress(line)
            }
        }
        for line in try await RetainedDue(engine: engine).apply(at: started, dryRun: dryRun) {
            report.rules.append(line)
            progress(line)
        }
        report.tombstonesRemoved = try await removeOldTombstones(at: started, dryRun: dryRun)
        report.finishedAt = engine.now()
        try await engine.state.saveSweep(report)
        try await engine.state.appendAudit([AuditEntry(
            at: report.finishedAt, event: .sweep, channel: .sweep, policies: engine.policyLabels,
            counts: ["matched": report.rules.reduce(0) { $0 + $1.matched }, "deleted": report.rules.reduce(0) { $0 + $1.deleted },
                     "modified": report.rules.reduce(0) { $0 + $1.modified }, "tombstonesRemoved": report.tombstonesRemoved ?? 0],
            note: "\(report.kind.rawValue)\(dryRun ? " (dry run)" : "")"
        )])
        engine.logger.info("sweep finished", metadata: [
            LogKey.state: .string(dryRun ? "dry-run" : "applied"), LogKey.documents: .stringConvertible(report.documentsChanged),
        ])
        return report
    }

    /// Tombstones older than the policies' `tombstones.keep` (the longest) go: past it,
    /// no restored backup is expected to hold the data they stand for. A dry run counts.
    private func removeOldTombstones(at date: Date, dryRun: Bool) async throws -> Int {
        let cutoff = engine.tombstoneKeep.subtracted(from: date)
        if dryRun { return try await engine.state.countTombstones(erasedBefore: cutoff) }
        return try await engine.state.removeTombstones(erasedBefore: cutoff)
    }

    /// One retention rule: counts what is past its period, then (unless dry) writes.
    private func sweep(_ statement: RuleStatement, cutoff: BSONDatetime, dryRun: Bool, batchDone: @escaping @Sendable (SweepProgress) -> Void) async throws -> SweepReport.Rule {
        var line = SweepReport.Rule(policy: statement.policyName, ruleIndex: statement.rule.index, namespace: statement.namespace.description,
                                    action: SweepReport.Action(statement.rule.action.kind))
        line.matched = try await engine.retrying { try await engine.data.count(statement.namespace, filter: statement.pendingFilter) }
        guard !dryRun, line.matched > 0 else { return line }
        let (matched, name) = (line.matched, line)
        batchDone(SweepProgress(rule: name, done: 0, total: matched))
        let progress: @Sendable (Int) -> Void = { written in
            batchDone(SweepProgress(rule: name, done: min(written, matched), total: matched))
        }
        let written: Int
        switch statement.write {
        case .delete, .update:
            written = try await writeInBatches(statement, cutoff: cutoff, matched: matched, progress: progress)
        default:
            written = try await engine.write(statement, expected: matched, batchDone: progress)
        }
        if statement.rule.action.kind == .delete { line.deleted = written } else { line.modified = written }
        return line
    }

    /// A delete or set-based update over everything past the cut-off, in writes of at
    /// most `sweepBatchSize` documents (`DataStore.forEachWriteWindow`: windows of the
    /// date field, each counted first; one write when everything fits): each write
    /// keeps the rule's filter, so a document touched since it was counted (no longer
    /// past its period, or already anonymized) is left alone. After a failure the walk
    /// starts again: what was written no longer matches, so nothing is written twice,
    /// and a crashed sweep's rerun carries on where it stopped.
    private func writeInBatches(_ statement: RuleStatement, cutoff: BSONDatetime, matched: Int, progress: @escaping @Sendable (Int) -> Void) async throws -> Int {
        let (data, namespace, write) = (engine.data, statement.namespace, statement.write)
        // A retention rule's single match path is its date field.
        let dateField = statement.rule.match[0]
        let written = ModifiedCounter()
        try await engine.retrying {
            // Again after a failure: what was written no longer matches.
            let left = max(matched - written.value, 0)
            try await data.forEachWriteWindow(namespace, filter: statement.pendingFilter, dateField: dateField, before: cutoff,
                                              matched: left, bound: engine.options.sweepBatchSize,
                                              readBatchSize: engine.options.batchSize) { filters in
                for filter in filters {
                    switch write {
                    case .delete: written.add(try await data.deleteMany(namespace, filter: filter))
                    case .update(let update): written.add(try await data.updateMany(namespace, filter: filter, update: update).modified)
                    default: break
                    }
                }
                progress(written.value)
            }
        }
        return written.value
    }
}
