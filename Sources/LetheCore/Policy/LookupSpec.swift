import BSON

/// One entry of `lookups`: values read from documents the user is linked to, before
/// anything changes, that rules (and other lookups) then match with `using`.
///
/// `accounts: { collection: customers, match: _id, field: accounts }` reads the
/// `accounts` of the customer whose `_id` is the user's id; each element of an array
/// field is one value, and values keep their stored BSON type.
public struct LookupSpec: Sendable, Hashable {
    /// The name rules and lookups write in `using`.
    public var name: String
    public var collection: String
    /// Field paths holding the values of `using`; a document matches when any does.
    public var match: [String]
    /// Where the match values come from: `user`, identifier names, lookup names.
    public var using: [String]
    /// A static filter ANDed with the match, or nil.
    public var scope: BSONDocument?
    /// The path whose values the lookup yields (`_id` included).
    public var field: String
    public var location: SourceLocation

    public init(name: String, collection: String, match: [String], using: [String] = [MatchSource.user],
                scope: BSONDocument? = nil, field: String,
                location: SourceLocation = SourceLocation(file: "", line: 0, column: 0)) {
        self.name = name
        self.collection = collection
        self.match = match
        self.using = using
        self.scope = scope
        self.field = field
        self.location = location
    }
}

/// The names `using` may hold besides identifiers and lookups.
public enum MatchSource {
    /// The user's ids (and identity ids with `includeIdentities`): the default.
    public static let user = "user"

    /// Whether `name` can name an identifier or a lookup: a letter, then letters,
    /// digits or '_', at most 64 in all; never `user`.
    static func isValidName(_ name: String) -> Bool {
        func isLetter(_ scalar: Unicode.Scalar) -> Bool { ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) }
        guard (1...64).contains(name.unicodeScalars.count), let first = name.unicodeScalars.first, isLetter(first),
              name != user else { return false }
        return name.unicodeScalars.allSatisfy { isLetter($0) || ("0"..."9").contains($0) || $0 == "_" }
    }
}
