import BSON

/// An id as text, compared, hashed and ordered by its UTF-8 bytes, as the database
/// compares it: two texts Swift calls equal (Unicode canonical equivalence) can be two
/// users there.
public struct IdText: Hashable, Comparable, Sendable {
    public let text: String

    public init(_ text: String) { self.text = text }

    public static func == (lhs: IdText, rhs: IdText) -> Bool { lhs.text.utf8.elementsEqual(rhs.text.utf8) }
    public static func < (lhs: IdText, rhs: IdText) -> Bool { lhs.text.utf8.lexicographicallyPrecedes(rhs.text.utf8) }
    public func hash(into hasher: inout Hasher) { hasher.combineUTF8(text) }
}
