import BSON
import Crypto
import Foundation

/// A secret key for HMAC-SHA256, at least 32 bytes.
public struct SecretKey: Sendable {
    public static let minimumBytes = 32
    let key: SymmetricKey

    public init(bytes: [UInt8]) throws(KeyError) {
        guard bytes.count >= Self.minimumBytes else { throw KeyError.tooShort(bytes.count) }
        key = SymmetricKey(data: bytes)
    }

    /// A key given as text: 64 or more hex digits are read as bytes, anything else is
    /// used as its UTF-8 bytes.
    public init(text: String) throws(KeyError) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.count >= 64, trimmed.count % 2 == 0, trimmed.allSatisfy(\.isHexDigit) {
            var bytes: [UInt8] = []
            var index = trimmed.startIndex
            while index < trimmed.endIndex {
                let next = trimmed.index(index, offsetBy: 2)
                bytes.append(UInt8(trimmed[index..<next], radix: 16)!)
                index = next
            }
            try self.init(bytes: bytes)
        } else {
            try self.init(bytes: Array(trimmed.utf8))
        }
    }

    public static func random() -> SecretKey {
        try! SecretKey(bytes: (0..<32).map { _ in UInt8.random(in: 0...255) })
    }

    /// HMAC-SHA256 of `purpose`, a zero byte, then `message`. The purpose keeps the
    /// values made for one use (tokens, hashes, receipts) unrelated to the others.
    func mac(purpose: String, _ message: [UInt8]) -> [UInt8] {
        var data = Array(purpose.utf8)
        data.append(0)
        data.append(contentsOf: message)
        return Array(HMAC<SHA256>.authenticationCode(for: data, using: key))
    }
}

public enum KeyError: Error, Sendable, Hashable, CustomStringConvertible {
    case tooShort(Int)
    case missing(variable: String)

    public var description: String {
        switch self {
        case .tooShort(let count):
            "the key is \(count) bytes; at least \(SecretKey.minimumBytes) are needed (make one with `openssl rand -hex 32`)"
        case .missing(let variable):
            "\(variable) is not set: policies that hash or pseudonymize need a key of at least 32 bytes (make one with `openssl rand -hex 32` and keep it secret)"
        }
    }
}

/// Makes the values that replace personal data: one token per user (the same in every
/// collection, so anonymized records stay linked to each other but not to the person)
/// and keyed hashes of single values. Keyed, so nobody without the key can test a guess.
public struct Anonymizer: Sendable {
    /// Prefix of every hashed value; values that already have it are not hashed again.
    public static let hashPrefix = "h1:"
    /// Prefix of every pseudonym token.
    public static let tokenPrefix = "anon_"

    let key: SecretKey

    public init(key: SecretKey) { self.key = key }

    /// The stable token for a user: `anon_` and 24 hex digits.
    public func token(for subject: ErasureSubject) -> String {
        Self.tokenPrefix + key.mac(purpose: "lethe-token-v1", subject.keyMaterial).prefix(12).lowercaseHex
    }

    /// The keyed hash of one value (`h1:` and 32 hex digits), over its type and bytes so
    /// that 1 and "1" hash apart. Null stays null: it holds nothing to hide.
    public func hash(_ value: BSON) -> BSON {
        if case .null = value { return .null }
        if case .string(let s) = value, s.hasPrefix(Self.hashPrefix) { return value }
        let encoded = BSONDocument([("v", value)]).bsonBytes
        return .string(Self.hashPrefix + key.mac(purpose: "lethe-hash-v1", encoded).prefix(16).lowercaseHex)
    }
}

/// The pseudonym that stands for a user in requests, receipts, audit entries and logs:
/// keyed, so it links one user's records for an auditor without revealing the id.
public struct SubjectPseudonymizer: Sendable {
    let key: SecretKey

    public init(key: SecretKey) { self.key = key }

    /// `subj_` and 32 hex digits, from the user id alone (or, without one, the first
    /// identifier: see `ErasureSubject.keyMaterial`).
    public func pseudonym(for subject: ErasureSubject) -> String {
        "subj_" + key.mac(purpose: "lethe-subject-v1", subject.keyMaterial).prefix(16).lowercaseHex
    }

    /// `doc_` and 16 hex digits for a document kept by a `retain` rule, from its
    /// namespace and its `_id`'s type and bytes: so that a report counts a document kept
    /// for several users once, without holding its id.
    public func documentKey(namespace: String, id: BSON) -> String {
        var message = Array(namespace.utf8)
        message.append(0)
        message += BSONDocument([("v", id)]).bsonBytes
        return "doc_" + key.mac(purpose: "lethe-retained-document-v1", message).prefix(8).lowercaseHex
    }
}
