/// What one rule did to documents: the counts every record of a rule carries (a
/// request's progress, a receipt, an audit line, a sweep line), and the one place
/// that says them in words.
public struct RuleCounts: Sendable, Hashable {
    public var matched: Int
    public var deleted: Int
    /// Documents anonymized (`anonymize`) or with the user pulled from an array (`pull`).
    public var modified: Int
    public var retained: Int

    public init(matched: Int = 0, deleted: Int = 0, modified: Int = 0, retained: Int = 0) {
        self.matched = matched
        self.deleted = deleted
        self.modified = modified
        self.retained = retained
    }

    /// The documents the action changed or kept.
    public func affected(by action: ActionKind) -> Int {
        switch action {
        case .delete: deleted
        case .anonymize, .pull: modified
        case .retain: retained
        }
    }

    /// "deleted 4", "anonymized 3", "pulled from 2", "retained 1".
    public func effect(of action: ActionKind) -> String {
        Self.effect(of: action, count: affected(by: action))
    }

    /// The same wording for a count alone.
    public static func effect(of action: ActionKind, count: Int) -> String {
        switch action {
        case .delete: "deleted \(count)"
        case .anonymize: "anonymized \(count)"
        case .pull: "pulled from \(count)"
        case .retain: "retained \(count)"
        }
    }
}
