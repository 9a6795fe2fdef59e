import Foundation

/// One line of the audit trail: what Lethe did, when, to which request, under which
/// policy. Append-only: Lethe writes entries and never changes or removes one. It keeps
/// what CCPA's record-keeping rule asks for (at least 24 months): the date, type and
/// channel of each request, the date and nature of the response, and the reason for any
/// refusal or exemption. The user appears only as a keyed pseudonym.
public struct AuditEntry: Sendable, Hashable, Codable {
    public enum Event: String, Sendable, Hashable, Codable {
        case received, refused, held, needsApproval = "needs-approval", approved, retried, started
        case failed, finished, sweep
        case holdPlaced = "hold-placed", holdLifted = "hold-lifted"
    }

    public var at: Date
    public var event: Event
    public var requestId: String?
    public var subjectPseudonym: String?
    public var channel: Channel?
    /// `name@fingerprint` of each policy that applied.
    public var policies: [String]?
    /// For rule events: `policy #n action namespace`.
    public var rule: String?
    /// Counts: matched, deleted, modified, retained, remaining.
    public var counts: [String: Int]?
    /// Why (refusal code, hold id, retention reason, failure): never personal data.
    public var note: String?
    /// Closing entries: one line per rule, what it did and how it verified.
    public var details: [String]?
    /// Who acted, for what a person does (a hold placed or lifted, an approval, a
    /// retry): `--actor`, `LETHE_ACTOR`, or the operating-system user. An operator's
    /// name, never the data subject's.
    public var actor: String?

    public init(at: Date, event: Event, requestId: String? = nil, subjectPseudonym: String? = nil, channel: Channel? = nil,
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

    /// The entry that closes a request: its outcome, its totals, and one line per rule.
    /// One entry, not one per rule: the trail stays small enough to write for a whole
    /// batch at once, and the per-rule figures are the receipt's.
    static func closing(_ request: ErasureRequest, at: Date) -> AuditEntry {
        var entry = about(request, request.state == .done ? .finished : .failed, at: at,
                          note: request.state == .done ? "erased as the policies say; receipt stored" : request.note)
        entry.counts = [
            "deleted": request.rules.reduce(0) { $0 + $1.deleted }, "modified": request.rules.reduce(0) { $0 + $1.modified },
            "retained": request.rules.reduce(0) { $0 + $1.retained }, "remaining": request.rules.reduce(0) { $0 + ($1.remaining ?? 0) },
        ]
        entry.details = request.rules.map(Self.line)
        return entry
    }

    /// `todo-app #1 delete todo.Item: matched 4, deleted 4, verified`.
    static func line(_ rule: RuleProgress) -> String {
        var parts = ["matched \(rule.matched)", rule.counts.effect(of: rule.action)]
        if rule.action == .retain {
            if let until = rule.retainedUntil { parts.append("until \(until.formatted(.iso8601.year().month().day()))") }
            if let reason = rule.retainReason { parts.append(reason) }
        }
        switch rule.verification {
        case .passed: parts.append("verified")
        case .failed: parts.append("VERIFICATION FAILED: \(rule.remaining ?? 0) left")
        case .notRun: parts.append("not finished")
        case .notApplicable: break
        }
        return "\(rule.policy) #\(rule.ruleIndex + 1) \(rule.action.rawValue) \(rule.namespace): " + parts.joined(separator: ", ")
    }
}
