import Foundation

/// What Lethe did in a period, for an auditor, a DPO or an app-store reviewer: the
/// requests received and how each ended, how long they took against their deadlines,
/// what happened to which collection (and what was kept, and why), the sweeps, and
/// the policies in force.
///
/// It holds no personal data: request ids, counts, namespaces, policy names and
/// fingerprints, reasons and notes written by policy authors and operators. Never a
/// raw user id, identity, email, pseudonym, document or request `reason`.
///
/// Built by `build(period:requests:refusals:receipts:policies:sweeps:now:)`, a pure
/// function; rendered by `render(_:)`. Every date is in whole seconds (UTC), so that a
/// report read back from its JSON equals the report written.
public struct ComplianceReport: Sendable, Hashable, Codable {
    /// The value of `schema` this build writes and reads (docs/report-schema.json).
    public static let schemaIdentifier = "lethe.report/v1"
    /// An unfinished request due within this time of `generatedAt` is listed as due soon: 7 days.
    public static let dueSoonWindow: TimeInterval = 7 * 86_400

    /// Always `schemaIdentifier`.
    public var schema: String
    /// The `now` the report was built at: states, overdue and due-soon are as at this time.
    public var generatedAt: Date
    public var letheVersion: String
    public var period: Period
    /// Requests received in the period by their state at `generatedAt`, and refusals at intake.
    public var outcomes: OutcomeCounts
    /// Refusals at intake in the period, by channel and code.
    public var refusals: [RefusalCount]
    /// Why requests received in the period failed, are held or wait.
    public var notes: [RequestNote]
    /// Receipt to completion, for requests received in the period and done.
    public var completion: CompletionTimes
    /// Requests overdue, done late, or due soon and unfinished.
    public var deadlines: [DeadlineEntry]
    /// What receipts finished in the period did, per collection.
    public var documents: DocumentActivity
    /// Sweeps started in the period, oldest first.
    public var sweeps: [SweepSummary]
    /// Policy versions in force during the period, or named by its requests.
    public var policies: [PolicyVersion]
    /// Every UTC day of the period, with the requests received that day by outcome.
    public var days: [DayCount]
    /// Every request received in the period, oldest first.
    public var requests: [RequestLine]

    /// A period: from `start` (included) to `end` (excluded).
    public struct Period: Sendable, Hashable, Codable {
        public var start: Date
        public var end: Date

        public init(start: Date, end: Date) {
            self.start = start
            self.end = end
        }

        public var interval: DateInterval { DateInterval(start: start, end: max(start, end)) }

        /// `start <= date < end`: consecutive periods never count a request twice.
        public func contains(_ date: Date) -> Bool { start <= date && date < end }
    }
}

/// How a request stands, as the report groups it. `refused` counts events refused at
/// intake, which never became requests.
public enum ReportOutcome: String, Sendable, Hashable, Codable, CaseIterable {
    /// `done`.
    case completed
    case failed
    case held
    /// `needs-approval`.
    case awaitingApproval = "awaiting-approval"
    /// `received` or `running`.
    case open
    case refused

    public init(_ state: ErasureRequest.State) {
        switch state {
        case .done: self = .completed
        case .failed: self = .failed
        case .held: self = .held
        case .needsApproval: self = .awaitingApproval
        case .received, .running: self = .open
        }
    }

    /// For people: "awaiting approval".
    public var label: String { rawValue.replacingOccurrences(of: "-", with: " ") }
}

/// Requests by outcome. `received` is the number of requests: every outcome but `refused`.
public struct OutcomeCounts: Sendable, Hashable, Codable {
    public var received = 0
    public var completed = 0
    public var failed = 0
    public var held = 0
    public var awaitingApproval = 0
    public var open = 0
    public var refused = 0
    /// Attempts that ended failed in the period, whatever became of their request
    /// after (a retried request that is now done still counts its failures here).
    public var failedAttempts = 0
    /// Of those, the attempts that failed verification (data left that must go).
    public var failedVerifications = 0

    public init() {}

    public subscript(outcome: ReportOutcome) -> Int {
        switch outcome {
        case .completed: completed
        case .failed: failed
        case .held: held
        case .awaitingApproval: awaitingApproval
        case .open: open
        case .refused: refused
        }
    }

    mutating func count(_ outcome: ReportOutcome) {
        switch outcome {
        case .completed: completed += 1
        case .failed: failed += 1
        case .held: held += 1
        case .awaitingApproval: awaitingApproval += 1
        case .open: open += 1
        case .refused: refused += 1
        }
        if outcome != .refused { received += 1 }
    }
}

/// Refusals at intake with the same channel and code.
public struct RefusalCount: Sendable, Hashable, Codable {
    public var channel: Channel
    public var reasonCode: String
    public var count: Int
}

/// Why a request failed, is held or waits, as the engine wrote it (no personal data).
public struct RequestNote: Sendable, Hashable, Codable {
    public var requestId: String
    public var state: ErasureRequest.State
    public var note: String
}

/// A length of time, in whole seconds and in hours (`seconds / 3600`, unrounded).
public struct ElapsedTime: Sendable, Hashable, Codable, Comparable {
    public var seconds: Int
    public var hours: Double

    public init(seconds: Int) {
        self.seconds = seconds
        self.hours = Double(seconds) / 3600
    }

    public static func < (lhs: ElapsedTime, rhs: ElapsedTime) -> Bool { lhs.seconds < rhs.seconds }
}

/// Receipt to completion of completed requests: median, 95th percentile and maximum.
/// See docs/reports.md for the method; nil when no request was completed.
public struct CompletionTimes: Sendable, Hashable, Codable {
    /// Completed requests measured.
    public var count: Int
    public var median: ElapsedTime?
    public var p95: ElapsedTime?
    public var max: ElapsedTime?
    /// Completed at or before their due date.
    public var withinDeadline: Int
    /// Completed after their due date.
    public var late: Int
    /// Completed requests without a due date.
    public var withoutDeadline: Int
    /// The same figures per deadline (time allowed from receipt to due date), shortest
    /// first; requests without a due date last.
    public var byDeadline: [DeadlineGroup]

    public struct DeadlineGroup: Sendable, Hashable, Codable {
        /// `dueAt - receivedAt`; nil for requests without a due date.
        public var allowed: ElapsedTime?
        public var count: Int
        public var median: ElapsedTime
        public var p95: ElapsedTime
        public var max: ElapsedTime
        public var late: Int
    }
}

/// A request that missed or is close to its due date.
public struct DeadlineEntry: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        /// Not done, and its due date has passed.
        case overdue
        /// Done after its due date.
        case completedLate = "completed-late"
        /// Not done, due within `ComplianceReport.dueSoonWindow`.
        case dueSoon = "due-soon"

        public var label: String { rawValue.replacingOccurrences(of: "-", with: " ") }
    }

    public var requestId: String
    public var status: Status
    public var state: ErasureRequest.State
    public var receivedAt: Date
    public var dueAt: Date
    public var finishedAt: Date?
    /// Overdue: `generatedAt - dueAt`; completed late: `finishedAt - dueAt`.
    public var lateBy: ElapsedTime?
    /// Due soon: `dueAt - generatedAt`.
    public var dueIn: ElapsedTime?
    /// False for a request received before the period and still unfinished.
    public var receivedInPeriod: Bool
    public var note: String?
}

/// What receipts finished in the period did.
public struct DocumentActivity: Sendable, Hashable, Codable {
    /// Receipts counted (one per request, the latest).
    public var receipts: Int
    public var completedReceipts: Int
    public var failedReceipts: Int
    /// Per collection, by namespace.
    public var namespaces: [NamespaceDocuments]
    /// What was kept, and why, per collection, policy and reason.
    public var retained: [RetainedDocuments]
}

/// Documents of one collection, summed over receipts.
public struct NamespaceDocuments: Sendable, Hashable, Codable {
    /// `database.collection`.
    public var namespace: String
    public var deleted: Int
    public var anonymized: Int
    /// Documents the user was pulled from (an array).
    public var pulled: Int
    public var retained: Int
    /// Receipts with a rule on this collection.
    public var requests: Int
    /// Rules whose verification found documents left.
    public var verificationFailures: Int

    /// Documents over every action.
    public var total: Int { deleted + anonymized + pulled + retained }
}

/// Documents kept by `retain` rules with the same collection, policy and reason.
public struct RetainedDocuments: Sendable, Hashable, Codable {
    public var namespace: String
    public var policy: String
    /// As the policy author wrote it.
    public var reason: String
    public var documents: Int
    public var requests: Int
    /// The latest date a retained document falls due (rules with `until`).
    public var latestUntil: Date?
}

/// A policy version in force during the period, or named by one of its requests.
public struct PolicyVersion: Sendable, Hashable, Codable {
    public var name: String
    public var fingerprint: String
    /// Nil when requests name it but the policy history given has no such entry.
    public var firstSeen: Date?
    /// When the next version of the same policy was first seen.
    public var replacedAt: Date?
    /// First seen within the period: the policy changed.
    public var changedInPeriod: Bool
    /// Requests received in the period under this version.
    public var requests: Int
}

/// One UTC day: requests received that day, by outcome.
public struct DayCount: Sendable, Hashable, Codable {
    /// `yyyy-MM-dd`, UTC.
    public var day: String
    public var counts: OutcomeCounts
}

/// One request received in the period.
public struct RequestLine: Sendable, Hashable, Codable {
    public var id: String
    public var state: ErasureRequest.State
    public var outcome: ReportOutcome
    /// `cli`, `inbox`, `http`.
    public var source: Channel
    public var receivedAt: Date
    public var dueAt: Date?
    public var finishedAt: Date?
    /// Receipt to completion, for a completed request.
    public var timeToComplete: ElapsedTime?
    /// Done after its due date, or not done and past it.
    public var overdue: Bool
    public var policies: [PolicyReference]
}
