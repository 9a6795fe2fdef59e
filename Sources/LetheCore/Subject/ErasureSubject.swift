import BSON
import Foundation

/// The user whose data is erased: the account id and the ids of its linked identities,
/// as text, exactly as the auth system gave them, and named identifiers (`email`) the
/// policies declare. Personal data: it is kept only while a request is open and never
/// appears in a log line, an error, a receipt or a report.
public struct ErasureSubject: Sendable, Hashable {
    /// Nil for a request known only by its identifiers (`lethe erase --identifier email=…`).
    public var userId: String?
    public var identities: [String]
    /// Identifier name → value, e.g. `email` → the user's address.
    public var identifiers: [String: String]

    public init(userId: String?, identities: [String] = [], identifiers: [String: String] = [:]) {
        self.userId = userId
        self.identities = identities
        self.identifiers = identifiers
    }

    /// What the user's pseudonym and token are keyed on: the user id, exactly as
    /// before identifiers existed; for a request known only by identifiers, the first
    /// identifier by name (`email`, NUL, the value), which no user id can collide with.
    var keyMaterial: [UInt8] {
        if let userId { return Array(userId.utf8) }
        guard let (name, value) = identifiers.min(by: { $0.key < $1.key }) else { return [] }
        return Array("identifier\u{0}\(name)\u{0}\(value)".utf8)
    }
}

/// Why an id was refused. Names the argument and what was expected, never the value.
public struct SubjectError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Which id: "the user id" or "identity id #2".
    public let which: String
    public let problem: String
    public let expected: String

    public var description: String { "\(which) \(problem); expected \(expected)" }
}

/// Turns ids given as text into the typed BSON values a policy's rules match on.
///
/// An id is input from outside, so it can only ever be bound as one typed value: it is
/// never parsed as JSON, never becomes an operator, and an id that does not look like a
/// plain id is refused before anything is read or written.
public enum SubjectBinding {
    /// Longest id accepted, in UTF-8 bytes (not characters: one character can hold any
    /// number of combining scalars).
    public static let maximumLength = 256

    /// What a plain id is, as every refusal says it.
    public static let expectation =
        "a plain id of 1 to \(maximumLength) bytes (UTF-8) of printable characters without spaces, quotes, braces or brackets, not starting with '$'"

    /// The characters a plain id may not contain: JSON and query syntax, quotes and
    /// escapes. Whitespace and control characters are refused separately.
    static let forbidden: Set<Character> = ["{", "}", "[", "]", "\"", "'", "\\", "`"]

    /// Checks that `text` is a plain id: 1 to 256 bytes (UTF-8) of printable characters, no
    /// whitespace, no JSON or query syntax, not starting with `$`, and no U+FFFD.
    ///
    /// U+FFFD (the replacement character) is refused because it is what a decoder puts in
    /// place of bytes that were not UTF-8 (the command line's `--user $'\xff\xfe'` arrives
    /// as U+FFFD U+FFFD): an id holding it was damaged before it reached Lethe, so it
    /// cannot name the user it was meant to, and would erase whichever user's id had
    /// suffered the same damage. Refused in every channel, as no auth system issues it.
    public static func checkPlain(_ text: String, which: String) throws(SubjectError) {
        let expected = expectation
        guard !text.isEmpty else { throw SubjectError(which: which, problem: "is empty", expected: expected) }
        guard text.utf8.count <= maximumLength else {
            throw SubjectError(which: which, problem: "is longer than \(maximumLength) bytes (UTF-8)", expected: expected)
        }
        guard !text.unicodeScalars.contains("\u{FFFD}") else {
            throw SubjectError(which: which, problem: "contains U+FFFD, the mark of bytes that were not valid UTF-8",
                               expected: expected + ", in valid UTF-8")
        }
        guard !text.hasPrefix("$") else {
            throw SubjectError(which: which, problem: "starts with '$', like a query operator", expected: expected)
        }
        for scalar in text.unicodeScalars {
            if scalar.properties.isWhitespace || scalar.properties.generalCategory == .control
                || scalar.properties.generalCategory == .format {
                throw SubjectError(which: which, problem: "contains whitespace or control characters", expected: expected)
            }
        }
        if text.contains(where: { forbidden.contains($0) }) {
            throw SubjectError(which: which, problem: "contains JSON or query syntax (quotes, braces or brackets)", expected: expected)
        }
    }

    /// The BSON values that stand for `subject` under `idType`: the user id and, when
    /// `includeIdentities`, each identity id. Duplicates are removed; order is kept.
    public static func bind(
        _ subject: ErasureSubject, idType: SubjectIDType, includeIdentities: Bool
    ) throws(SubjectError) -> [BSON] {
        var values: [BSON] = []
        if let userId = subject.userId { try values.append(contentsOf: bind(userId, idType: idType, which: "the user id")) }
        if includeIdentities {
            for (index, identity) in subject.identities.enumerated() {
                try values.append(contentsOf: bind(identity, idType: idType, which: "identity id #\(index + 1)", lenientAny: true))
            }
        }
        var seen = Set<BSON>()
        return values.filter { seen.insert($0).inserted }
    }

    /// The values each match source of `policy` stands for: `user` (the ids, as
    /// `bind`), and each identifier the policy declares that the subject carries, as a
    /// string. Lookups are added when they are resolved.
    public static func sources(of subject: ErasureSubject, for policy: Policy) throws(SubjectError) -> [String: [BSON]] {
        var sources = [MatchSource.user: try bind(subject, idType: policy.subject.idType, includeIdentities: policy.subject.includeIdentities)]
        for name in policy.subject.identifiers {
            guard let value = subject.identifiers[name] else { continue }
            try checkPlain(value, which: "identifier '\(name)'")
            sources[name] = [.string(value)]
        }
        return sources
    }

    /// One id as typed values. `any` binds the string and, where the text has that form,
    /// the ObjectId and the UUID too, since an app may store either.
    static func bind(_ text: String, idType: SubjectIDType, which: String, lenientAny: Bool = false) throws(SubjectError) -> [BSON] {
        try checkPlain(text, which: which)
        switch idType {
        case .string:
            return [.string(text)]
        case .objectId:
            guard let id = BSONObjectId(text) else {
                throw SubjectError(which: which, problem: "is not an ObjectId", expected: "24 hexadecimal digits, as the policy's subject.idType is objectId")
            }
            return [.objectId(id)]
        case .uuid:
            guard let uuid = UUID(uuidString: text) else {
                throw SubjectError(which: which, problem: "is not a UUID", expected: "a UUID such as 123e4567-e89b-12d3-a456-426614174000, as the policy's subject.idType is uuid")
            }
            return [.binary(BSONBinary(uuid: uuid))]
        case .any:
            var values: [BSON] = [.string(text)]
            if let id = BSONObjectId(text) { values.append(.objectId(id)) }
            if let uuid = UUID(uuidString: text) { values.append(.binary(BSONBinary(uuid: uuid))) }
            return values
        }
    }
}
