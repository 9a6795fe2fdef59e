import Foundation

/// The progress of a batch in flight, one small document for the whole batch: after
/// each rule, its per-request counts are recorded here instead of saving every request
/// (which would rewrite hundreds of request documents per rule). A batch interrupted
/// after some rules is resumed from it: those rules are not run again, and their counts
/// still reach the receipts. Removed when the batch finishes.
public struct BatchCheckpoint: Sendable, Hashable, Codable {
    /// The counts of one rule for one request of the batch.
    public struct Counts: Sendable, Hashable, Codable {
        public var matched: Int
        public var planned: Int
        public var deleted: Int
        public var modified: Int
        public var retained: Int
        /// Epoch milliseconds, not a date: see `Lease`.
        public var retainedUntilMilliseconds: Int64?
        public var retainedKeys: [String]?

        init(_ progress: RuleProgress) {
            matched = progress.matched
            planned = progress.planned
            deleted = progress.deleted
            modified = progress.modified
            retained = progress.retained
            retainedKeys = progress.retainedKeys
            retainedUntilMilliseconds = progress.retainedUntil.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
        }
    }

    /// One applied rule: counts aligned with `requestIds`.
    public struct AppliedRule: Sendable, Hashable, Codable {
        /// The rule's position in the request's `rules`.
        public var rule: Int
        public var counts: [Counts?]
    }

    public var id: String
    public var requestIds: [String]
    /// When the batch started (epoch milliseconds, rounded down: never after the real
    /// start, so that a receipt finished within the same millisecond still counts as of
    /// this batch): the requests' `startedAt` until their last save.
    public var startedAtMilliseconds: Int64
    public var applied: [AppliedRule]

    public init(id: String = "batch_" + UUID().uuidString.lowercased(), requestIds: [String], startedAt: Date, applied: [AppliedRule] = []) {
        self.id = id
        self.requestIds = requestIds
        self.startedAtMilliseconds = Int64((startedAt.timeIntervalSince1970 * 1000).rounded(.down))
        self.applied = applied
    }

    public var startedAt: Date { Date(timeIntervalSince1970: Double(startedAtMilliseconds) / 1000) }

    /// Records that `rule` is applied for these requests, with their counts.
    mutating func record(rule: Int, of requests: [ErasureRequest]) {
        let byId = Dictionary(requests.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let counts = requestIds.map { id in byId[id].map { Counts($0.rules[rule]) } }
        applied.removeAll { $0.rule == rule }
        applied.append(AppliedRule(rule: rule, counts: counts))
    }

    /// Marks as applied, with their recorded counts, the rules this checkpoint holds for
    /// `request` that it still has pending. Returns the rules restored.
    func restore(into request: inout ErasureRequest) -> [Int] {
        guard let position = requestIds.firstIndex(of: request.id) else { return [] }
        if request.startedAt == nil { request.startedAt = Date(timeIntervalSince1970: Double(startedAtMilliseconds) / 1000) }
        var restored: [Int] = []
        for entry in applied where request.rules.indices.contains(entry.rule) && request.rules[entry.rule].stage == .pending {
            guard let counts = entry.counts[position] else { continue }
            var progress = request.rules[entry.rule]
            progress.matched = counts.matched
            progress.planned = counts.planned
            progress.deleted = counts.deleted
            progress.modified = counts.modified
            progress.retained = counts.retained
            progress.retainedKeys = counts.retainedKeys
            progress.retainedUntil = counts.retainedUntilMilliseconds.map { Date(timeIntervalSince1970: Double($0) / 1000) }
            progress.stage = .applied
            request.rules[entry.rule] = progress
            restored.append(entry.rule)
        }
        return restored
    }
}
