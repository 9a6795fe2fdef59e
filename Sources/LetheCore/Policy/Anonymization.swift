import BSON

/// The field changes of an `anonymize` action. A field appears in at most one of
/// the four lists, and never `_id`.
public struct Anonymization: Sendable, Hashable {
    /// Field path → new value, in file order.
    public var set: BSONDocument
    /// Field paths removed from the document.
    public var unset: [String]
    /// Field paths whose value is replaced by its keyed HMAC-SHA256
    /// (key: `LETHE_HASH_KEY`).
    public var hash: [String]
    /// Field paths whose value is replaced by the user's pseudonym: one stable keyed
    /// token per user, the same in every collection.
    public var pseudonymize: [String]

    public init(set: BSONDocument = [:], unset: [String] = [], hash: [String] = [], pseudonymize: [String] = []) {
        self.set = set
        self.unset = unset
        self.hash = hash
        self.pseudonymize = pseudonymize
    }

    /// Every field path this changes: `set`, then `unset`, `hash`, `pseudonymize`.
    public var changedFields: [String] { self.set.keys + unset + hash + pseudonymize }

    /// Whether it needs `LETHE_HASH_KEY`.
    public var needsHashKey: Bool { !hash.isEmpty || !pseudonymize.isEmpty }
}
