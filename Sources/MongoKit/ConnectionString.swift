import Foundation
internal import CMongoC

/// A MongoDB connection string, checked by libmongoc. Every URI option libmongoc knows
/// (TLS, authSource, replicaSet, `mongodb+srv://`, timeouts) passes through unchanged.
/// `description` hides the password.
public struct ConnectionString: Sendable, Hashable, CustomStringConvertible {
    /// The string as given. Holds the password: never log it; use `description`.
    public let rawValue: String
    /// `host:port` of each seed, or the SRV name, for messages.
    public let hosts: [String]

    public init(_ rawValue: String) throws(MongoError) {
        let trimmed = rawValue.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else {
            throw MongoError(
                code: .invalidURI, operation: "connect",
                message: "the connection string is empty; expected mongodb://HOST[:PORT]/ or mongodb+srv://HOST/ (set --uri or LETHE_MONGODB_URI)"
            )
        }
        _ = libmongocInitialized
        var error = bson_error_t()
        guard let uri = mongoc_uri_new_with_error(trimmed, &error) else {
            let redacted = Self.redact(trimmed)
            var reason = Self.scrub(error.messageText, of: trimmed)
            if reason.isEmpty { reason = "libmongoc could not parse it" }
            throw MongoError(
                code: .invalidURI, operation: "connect",
                message: "invalid connection string \(redacted): \(reason). Expected mongodb://[USER:PASSWORD@]HOST[:PORT][/DATABASE][?OPTIONS] or mongodb+srv://...; percent-encode ':', '/', '@' in the user name and password"
            )
        }
        defer { mongoc_uri_destroy(uri) }
        // Every write reports what it changed (receipts count documents, verification
        // compares): with w=0 the server answers nothing, and libmongoc refuses the
        // collation every write states. Refused here, before anything is sent.
        if let concern = mongoc_uri_get_write_concern(uri), !mongoc_write_concern_is_acknowledged(concern) {
            throw MongoError(
                code: .invalidURI, operation: "connect",
                message: "the connection string \(Self.redact(trimmed)) asks for unacknowledged writes (w=0): Lethe must know what each write changed; remove w=0 (w=1, w=majority and journal=true are fine)"
            )
        }
        var seeds: [String] = []
        if let srv = mongoc_uri_get_srv_hostname(uri) {
            seeds.append(String(cString: srv))
        } else {
            var host = mongoc_uri_get_hosts(uri)
            while let current = host {
                let text = withUnsafeBytes(of: current.pointee.host_and_port) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                seeds.append(text)
                host = UnsafePointer(current.pointee.next)
            }
        }
        self.rawValue = trimmed
        self.hosts = seeds
    }

    public var description: String { Self.redact(rawValue) }

    /// Replaces the password of `mongodb://user:password@host` with `****`.
    public static func redact(_ uri: String) -> String {
        guard let scheme = uri.range(of: "://") else { return uri }
        let rest = uri[scheme.upperBound...]
        // The authority ends at the first '/' or '?' after the last '@' of the userinfo.
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@") else { return uri }
        let userinfo = authority[..<at]
        guard let colon = userinfo.firstIndex(of: ":") else { return uri }
        return String(uri[..<colon]) + ":****" + String(uri[at...])
    }

    /// Removes any copy of the password (raw or percent-decoded) from a message.
    static func scrub(_ message: String, of uri: String) -> String {
        let redacted = redact(uri)
        guard redacted != uri,
              let scheme = uri.range(of: "://"),
              let at = uri[scheme.upperBound...].lastIndex(of: "@"),
              let colon = uri[scheme.upperBound..<at].firstIndex(of: ":")
        else { return message }
        let password = String(uri[uri.index(after: colon)..<at])
        var text = message.replacingOccurrences(of: uri, with: redacted)
        for secret in [password, password.removingPercentEncoding ?? password] where !secret.isEmpty {
            text = text.replacingOccurrences(of: secret, with: "****")
        }
        return text
    }
}
