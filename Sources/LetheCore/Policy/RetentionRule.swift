import BSON

/// One entry of `retention`: documents of a collection, whoever they belong to,
/// that are erased once a date field is older than a duration.
public struct RetentionRule: Sendable, Hashable {
    /// Position in the policy's `retention` list, from 0.
    public var index: Int
    public var collection: String
    /// The date field compared with "now minus `olderThan`".
    public var field: String
    public var olderThan: PolicyDuration
    /// `.delete` or `.anonymize` (without `pseudonymize`: there is no user).
    public var action: RuleAction
    /// The policy's `where`: a static filter ANDed with the age condition, or nil.
    public var scope: BSONDocument?
    /// Free text for people; not part of the fingerprint.
    public var description: String?
    public var location: SourceLocation

    public init(
        index: Int = 0,
        collection: String,
        field: String,
        olderThan: PolicyDuration,
        action: RuleAction,
        scope: BSONDocument? = nil,
        description: String? = nil,
        location: SourceLocation = SourceLocation(file: "", line: 0, column: 0)
    ) {
        self.index = index
        self.collection = collection
        self.field = field
        self.olderThan = olderThan
        self.action = action
        self.scope = scope
        self.description = description
        self.location = location
    }
}
