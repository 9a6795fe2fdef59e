import BSON
import Foundation

/// What Lethe keeps of an erased value, so that the value can be recognized if a backup
/// brings it back: its keyed HMAC (never the value), the request that erased it, and
/// when. Without the subject key nobody can test a guess against it.
public struct Tombstone: Sendable, Hashable, Codable {
    /// `tomb_` and 32 hex digits: `TombstoneKeyer.key(for:)` of the value's text.
    public var key: String
    /// The request that erased the value.
    public var requestId: String
    /// What the value was to that request (its user id, an identity id, ...).
    public var kind: TombstoneKind
    /// When that request finished.
    public var erasedAt: Date

    public init(key: String, requestId: String, kind: TombstoneKind, erasedAt: Date) {
        self.key = key
        self.requestId = requestId
        self.kind = kind
        self.erasedAt = erasedAt
    }
}

/// What a tombstoned value was to its request. A string-backed struct, not an enum, so
/// that new sources of values are added without breaking stored tombstones or callers.
public struct TombstoneKind: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The request's user id.
    public static let userId = TombstoneKind(rawValue: "user-id")
    /// The id of an identity linked to the user.
    public static let identity = TombstoneKind(rawValue: "identity")
    /// A named identifier the request carried (`identifier:email`).
    public static func identifier(_ name: String) -> TombstoneKind { TombstoneKind(rawValue: identifierPrefix + name) }
    static let identifierPrefix = "identifier:"

    /// The identifier's name, for an identifier's tombstone.
    public var identifierName: String? {
        rawValue.hasPrefix(Self.identifierPrefix) ? String(rawValue.dropFirst(Self.identifierPrefix.count)) : nil
    }

    public var description: String { rawValue }
}

/// One value a finished request erased, as text, before it is keyed.
public struct TombstoneValue: Sendable, Hashable {
    public var kind: TombstoneKind
    /// The value as the database holds it, as text: a string as written, an ObjectId as
    /// its 24 lower-case hex digits, a UUID in its lower-case form (`TombstoneKeyer.text(of:)`).
    public var text: String

    public init(kind: TombstoneKind, text: String) {
        self.kind = kind
        self.text = text
    }
}

/// Keys values for tombstones: HMAC-SHA256 with the subject key, over the value's
/// UTF-8 bytes, under a purpose of its own (so a tombstone key is unrelated to the
/// subject pseudonym of the same id).
public struct TombstoneKeyer: Sendable {
    public static let prefix = "tomb_"
    let key: SecretKey

    public init(key: SecretKey) { self.key = key }

    /// `tomb_` and 32 hex digits.
    public func key(for text: String) -> String { digest(for: text).key }

    /// The key's 16 bytes, held inline: what a sweep keeps per distinct value.
    public func digest(for text: String) -> TombstoneDigest {
        TombstoneDigest(bytes: key.mac(purpose: "lethe-tombstone-v1", Array(text.utf8)).prefix(16))
    }

    /// The key of a value found in the data, or nil when it is of no type an id or
    /// identifier can have (numbers, dates, documents).
    public func key(for value: BSON) -> String? { Self.text(of: value).map { key(for: $0) } }

    /// A value as the text it is keyed by: a string as written, an ObjectId as its hex
    /// digits (lower case), a UUID (binary subtype 4) in its lower-case form. The same
    /// function keys the values at finish and the values found by the restore sweep.
    public static func text(of value: BSON) -> String? {
        switch value {
        case .string(let text): text
        case .objectId(let id): id.hex
        case .binary(let binary): binary.uuid?.uuidString.lowercased()
        default: nil
        }
    }
}

/// A tombstone key as 16 bytes in two words: a hundred thousand of them are 1.6 MB,
/// where their text would be a heap allocation each.
public struct TombstoneDigest: Sendable, Hashable {
    let high: UInt64
    let low: UInt64

    init(bytes: some Collection<UInt8>) {
        let bytes = Array(bytes)
        high = bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        low = bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// `tomb_` and 32 hex digits, as stored.
    public var key: String {
        func hex(_ word: UInt64) -> String {
            let digits = String(word, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
        return TombstoneKeyer.prefix + hex(high) + hex(low)
    }
}
