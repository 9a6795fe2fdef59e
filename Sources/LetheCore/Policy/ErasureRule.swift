import BSON

/// One entry of `rules`: which documents of a collection belong to the user, and
/// what happens to them.
public struct ErasureRule: Sendable, Hashable {
    /// Position in the policy's `rules` list, from 0.
    public var index: Int
    public var collection: String
    /// Field paths holding the user's id; a document matches when any of them
    /// does. An array field matches when any element does. Never empty.
    public var match: [String]
    /// Where the match values come from (`user`, identifier or lookup names); the
    /// union of them. Default `[user]`.
    public var using: [String]
    /// The policy's `where`: a static filter ANDed with the match, or nil.
    public var scope: BSONDocument?
    public var action: RuleAction
    /// Free text for people; not part of the fingerprint.
    public var description: String?
    /// Where the rule starts in its file.
    public var location: SourceLocation

    public init(
        index: Int = 0,
        collection: String,
        match: [String],
        using: [String] = [MatchSource.user],
        scope: BSONDocument? = nil,
        action: RuleAction,
        description: String? = nil,
        location: SourceLocation = SourceLocation(file: "", line: 0, column: 0)
    ) {
        self.index = index
        self.collection = collection
        self.match = match
        self.using = using
        self.scope = scope
        self.action = action
        self.description = description
        self.location = location
    }
}
