import Foundation

/// One line of the audit trail: what Lethe did, when, to which request, under which
/// policy. Append-only: Lethe writes entries and never changes or removes one. It keeps
/// what CCPA's record-keeping rule asks for (at least 24 months): the date, type and
/// channel of each request, the date and nature of the response, and the reason for any
/// refusal or exemption. The user appears only as a keyed pseudonym.
public struct AuditEntry: Sendable, Hashable, Codable {
    public enum Event: String, Sendable, Hashable, Codable {
        case received, refused, held, needsApproval = "needs-approval", approved, retried, started
        case ruleApplied = "rule-applied", verified, verificationFailed = "verification-failed"
        case failed, finished, sweep
    }

    public var at: Date
    public var event: Event
    public var requestId: String?
    public var subjectPseudonym: String?
    /// `cli`, `inbox`, `http`, or `sweep`.
    public var channel: String?
    /// `name@fingerprint` of each policy that applied.
    public var policies: [String]?
    /// For rule events: `policy #n action namespace`.
    public var rule: String?
    /// Counts: matched, deleted, modified, retained, remaining.
    public var counts: [String: Int]?
    /// Why (refusal code, hold id, retention reason, failure): never personal data.
    public var note: String?

    public init(at: Date, event: Event, requestId: String? = nil, subjectPseudonym: String? = nil, channel: String? = nil,
                policies: [String]? = nil, rule: String? = nil, counts: [String: Int]? = nil, note: String? = nil) {
        self.at = at
        self.event = event
        self.requestId = requestId
        self.subjectPseudonym = subjectPseudonym
        self.channel = channel
        self.policies = policies
        self.rule = rule
        self.counts = counts
        self.note = note
    }

    /// An entry about `request`, with its identifying fields filled in.
    public static func about(_ request: ErasureRequest, _ event: Event, at: Date, note: String? = nil) -> AuditEntry {
        AuditEntry(at: at, event: event, requestId: request.id, subjectPseudonym: request.subjectPseudonym, channel: request.source,
                   policies: request.policies.map { "\($0.name)@\($0.fingerprint)" }, note: note)
    }

    /// One entry per rule a request has applied, with its counts.
    static func rule(_ progress: RuleProgress, of request: ErasureRequest, at: Date) -> AuditEntry {
        var entry = about(request, .ruleApplied, at: at, note: progress.retainReason)
        entry.rule = "\(progress.policy) #\(progress.ruleIndex + 1) \(progress.action) \(progress.namespace)"
        entry.counts = ["matched": progress.matched, "deleted": progress.deleted, "modified": progress.modified, "retained": progress.retained]
        return entry
    }
}
