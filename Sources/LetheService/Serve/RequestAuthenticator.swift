import BSON
import Crypto
import Foundation
import LetheCore

/// Checks that an HTTP delivery comes from a configured sender: an HMAC-SHA256
/// signature of the timestamp and body with a shared secret (header
/// `Lethe-Signature: t=<unix seconds>,v1=<hex>` over the bytes `"<t>.<body>"`; a stale
/// timestamp is a replay and is refused), or a bearer token.
public struct RequestAuthenticator: Sendable {
    public struct Options: Sendable {
        /// Shared secret for signatures (LETHE_HTTP_SECRET). Default nil.
        public var secret: [UInt8]?
        /// Bearer token (LETHE_HTTP_TOKEN). Default nil.
        public var bearerToken: String?
        /// Largest accepted difference between the signature's timestamp and now.
        /// Default 300 seconds.
        public var tolerance: TimeInterval

        public init(secret: [UInt8]? = nil, bearerToken: String? = nil, tolerance: TimeInterval = 300) {
            self.secret = secret
            self.bearerToken = bearerToken
            self.tolerance = tolerance
        }

        public var isConfigured: Bool { secret != nil || bearerToken != nil }

        /// Options from the environment's secret and token, each refused when set but
        /// shorter than `SecretKey.minimumBytes` (32) bytes: a short shared secret can be
        /// guessed. Empty counts as unset.
        public static func checked(secret: String?, bearerToken: String?) throws(CredentialError) -> Options {
            let secret = secret.flatMap { $0.isEmpty ? nil : $0 }
            let token = bearerToken.flatMap { $0.isEmpty ? nil : $0 }
            if let secret, secret.utf8.count < SecretKey.minimumBytes {
                throw CredentialError(variable: "LETHE_HTTP_SECRET", bytes: secret.utf8.count)
            }
            if let token, token.utf8.count < SecretKey.minimumBytes {
                throw CredentialError(variable: "LETHE_HTTP_TOKEN", bytes: token.utf8.count)
            }
            return Options(secret: secret.map { Array($0.utf8) }, bearerToken: token)
        }
    }

    /// A configured credential that is too short. Names the variable and its length only.
    public struct CredentialError: Error, Sendable, Hashable, CustomStringConvertible {
        public let variable: String
        public let bytes: Int

        public var description: String {
            "\(variable) is \(bytes) bytes; at least \(SecretKey.minimumBytes) are needed (make one with `openssl rand -hex 32`)"
        }
    }

    public enum Outcome: Sendable, Hashable {
        case accepted
        case refused(String)
    }

    /// A signature header, read: refused, or what `check` needs to verify it.
    private enum SignatureHeader {
        case refused(Outcome)
        case wellFormed(secret: [UInt8], timestamp: String, candidates: [String])
    }

    public static let signatureHeader = "Lethe-Signature"

    let options: Options

    public init(options: Options) { self.options = options }

    /// What the headers alone decide, before the body is read: a bearer token is checked
    /// in full; a signature header must be present, well-formed and fresh (it is checked
    /// against the body by `check`). `.accepted` here means "read the body".
    public func preflight(authorization: String?, signature: String?, now: Date = Date()) -> Outcome {
        if let token = options.bearerToken, let authorization, authorization.hasPrefix("Bearer ") {
            return bearer(authorization, token)
        }
        switch signatureParts(signature, now: now) {
        case .refused(let refusal): return refusal
        case .wellFormed: return .accepted
        }
    }

    public func check(authorization: String?, signature: String?, body: [UInt8], now: Date = Date()) -> Outcome {
        if let token = options.bearerToken, let authorization, authorization.hasPrefix("Bearer ") {
            return bearer(authorization, token)
        }
        switch signatureParts(signature, now: now) {
        case .refused(let refusal):
            return refusal
        case .wellFormed(let secret, let timestamp, let candidates):
            let expected = Self.signature(secret: secret, timestamp: timestamp, body: body)
            let matches = candidates.contains { Self.constantTimeEqual(Array($0.utf8), Array(expected.utf8)) }
            return matches ? .accepted : .refused("the signature does not match the body")
        }
    }

    private func bearer(_ authorization: String, _ token: String) -> Outcome {
        Self.constantTimeEqual(Array(authorization.dropFirst(7).utf8), Array(token.utf8))
            ? .accepted : .refused("the bearer token is not valid")
    }

    /// The secret, the timestamp and the `v1` candidates of a present, well-formed and
    /// fresh signature header.
    private func signatureParts(_ signature: String?, now: Date) -> SignatureHeader {
        guard let secret = options.secret else {
            return .refused(.refused(options.bearerToken == nil ? "no credentials are configured" : "an Authorization: Bearer token is required"))
        }
        guard let signature else { return .refused(.refused("the \(Self.signatureHeader) header is missing")) }
        var timestamp: String?
        var candidates: [String] = []
        for part in signature.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { continue }
            if pair[0] == "t" { timestamp = pair[1] } else if pair[0] == "v1" { candidates.append(pair[1].lowercased()) }
        }
        let wellFormed = candidates.allSatisfy { $0.utf8.count == 64 && $0.allSatisfy(\.isHexDigit) }
        guard let timestamp, let seconds = TimeInterval(timestamp), seconds.isFinite, !candidates.isEmpty, wellFormed else {
            return .refused(.refused("the \(Self.signatureHeader) header must be t=<unix seconds>,v1=<64 hex digits of HMAC-SHA256>"))
        }
        guard abs(now.timeIntervalSince1970 - seconds) <= options.tolerance else {
            return .refused(.refused("the signature's timestamp is more than \(Int(options.tolerance)) seconds from now (a replay, or a clock to fix)"))
        }
        return .wellFormed(secret: secret, timestamp: timestamp, candidates: candidates)
    }

    /// The `v1` signature a sender computes.
    public static func signature(secret: [UInt8], timestamp: String, body: [UInt8]) -> String {
        var message = Array(timestamp.utf8)
        message.append(UInt8(ascii: "."))
        message.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: secret))
        return mac.lowercaseHex
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
