import BSON
import Crypto
import Foundation

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
    }

    public enum Outcome: Sendable, Hashable {
        case accepted
        case refused(String)
    }

    public static let signatureHeader = "Lethe-Signature"

    let options: Options

    public init(options: Options) { self.options = options }

    public func check(authorization: String?, signature: String?, body: [UInt8], now: Date = Date()) -> Outcome {
        if let token = options.bearerToken, let authorization, authorization.hasPrefix("Bearer ") {
            return Self.constantTimeEqual(Array(authorization.dropFirst(7).utf8), Array(token.utf8))
                ? .accepted : .refused("the bearer token is not valid")
        }
        guard let secret = options.secret else {
            return .refused(options.bearerToken == nil ? "no credentials are configured" : "an Authorization: Bearer token is required")
        }
        guard let signature else { return .refused("the \(Self.signatureHeader) header is missing") }
        var timestamp: String?
        var candidates: [String] = []
        for part in signature.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { continue }
            if pair[0] == "t" { timestamp = pair[1] } else if pair[0] == "v1" { candidates.append(pair[1].lowercased()) }
        }
        guard let timestamp, let seconds = TimeInterval(timestamp), !candidates.isEmpty else {
            return .refused("the \(Self.signatureHeader) header must be t=<unix seconds>,v1=<hex HMAC-SHA256>")
        }
        guard abs(now.timeIntervalSince1970 - seconds) <= options.tolerance else {
            return .refused("the signature's timestamp is more than \(Int(options.tolerance)) seconds from now (a replay, or a clock to fix)")
        }
        let expected = Self.signature(secret: secret, timestamp: timestamp, body: body)
        let matches = candidates.contains { Self.constantTimeEqual(Array($0.utf8), Array(expected.utf8)) }
        return matches ? .accepted : .refused("the signature does not match the body")
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
