/// What a rule does to each matched document.
public indirect enum RuleAction: Sendable, Hashable {
    /// Delete the document.
    case delete
    /// Change fields of the document and keep it.
    case anonymize(Anonymization)
    /// Remove the user's ids from the matched array fields; keep the document.
    case pull
    /// Keep the document untouched for a stated reason, possibly until a date.
    case retain(Retention)

    /// The action's name as written in a policy.
    public var name: String {
        switch self {
        case .delete: "delete"
        case .anonymize: "anonymize"
        case .pull: "pull"
        case .retain: "retain"
        }
    }

    /// The names a policy may write, in documentation order.
    public static let names = ["delete", "anonymize", "pull", "retain"]
}

/// Why and how long a `retain` rule keeps documents.
public struct Retention: Sendable, Hashable {
    /// The legal or business reason, recorded in every receipt.
    public var reason: String
    /// When the retention ends, per document; nil keeps the documents indefinitely.
    public var until: RetentionDeadline?
    /// What happens once `until` has passed: `.delete`, `.anonymize` or `.pull`,
    /// never `.retain`. Present exactly when `until` is.
    public var then: RuleAction?

    public init(reason: String, until: RetentionDeadline? = nil, then: RuleAction? = nil) {
        self.reason = reason
        self.until = until
        self.then = then
    }
}

/// "Until `after` has passed since the date in `field`."
public struct RetentionDeadline: Sendable, Hashable {
    /// A date field of the retained document.
    public var field: String
    public var after: PolicyDuration

    public init(field: String, after: PolicyDuration) {
        self.field = field
        self.after = after
    }
}
