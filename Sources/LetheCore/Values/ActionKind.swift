/// What a rule does, as stored in requests, receipts, audit entries and sweeps: the
/// action's name without its parameters.
public enum ActionKind: String, Sendable, Hashable, Codable, CaseIterable {
    case delete, anonymize, pull, retain

    /// Whether the action writes nothing (documents are kept as they are).
    public var keepsDocuments: Bool { self == .retain }
}

extension RuleAction {
    public var kind: ActionKind {
        switch self {
        case .delete: .delete
        case .anonymize: .anonymize
        case .pull: .pull
        case .retain: .retain
        }
    }

    var isRetain: Bool { kind == .retain }
}
