import Crypto

/// What an event's dedupe key is computed from. Holds ids, so it is never shown; only
/// its digest leaves it.
enum DedupeMaterial: Sendable, Hashable {
    /// CloudEvents: `source` and `id` identify an event (CloudEvents 1.0, "id").
    case cloudEvents(source: String, id: String)
    /// App Services authentication events carry no id: the event's own content.
    /// `identities` are sorted by UTF-8 bytes, without duplicates.
    case appServices(operationType: String, userId: String, identities: [String], milliseconds: Int64?)

    /// The HMAC purpose that keeps keyed dedupe keys unrelated to tokens and pseudonyms
    /// made with the same key.
    static let purpose = "lethe-event-v1"

    init(appServicesOperation operationType: String, userId: String, identities: [String], milliseconds: Int64?) {
        let sorted = Set(identities).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        self = .appServices(operationType: operationType, userId: userId, identities: sorted, milliseconds: milliseconds)
    }

    var prefix: String {
        switch self {
        case .cloudEvents: "ce:"
        case .appServices: "as:"
        }
    }

    /// The bytes that are hashed.
    ///
    /// CloudEvents: `source`, a zero byte, `id` (neither may hold control characters, so
    /// the zero byte cannot be forged). App Services: each of operationType, user id,
    /// the number of identities, each identity id, and the time in milliseconds (empty
    /// when there is none) as `<UTF-8 length>:<UTF-8 bytes>`, one after the other, so
    /// that no two different contents give the same bytes.
    var canonicalBytes: [UInt8] {
        switch self {
        case .cloudEvents(let source, let id):
            return Array(source.utf8) + [0] + Array(id.utf8)
        case .appServices(let operationType, let userId, let identities, let milliseconds):
            var fields = [operationType, userId, String(identities.count)]
            fields.append(contentsOf: identities)
            fields.append(milliseconds.map { String($0) } ?? "")
            var bytes: [UInt8] = []
            for field in fields {
                bytes.append(contentsOf: "\(field.utf8.count):".utf8)
                bytes.append(contentsOf: field.utf8)
            }
            return bytes
        }
    }

    /// `ce:`/`as:` and 64 hex digits: HMAC-SHA256 under `key` (purpose `lethe-event-v1`)
    /// when one is given, else SHA-256.
    func key(using key: SecretKey?) -> String {
        let digest: [UInt8]
        if let key {
            digest = key.mac(purpose: Self.purpose, canonicalBytes)
        } else {
            digest = Array(SHA256.hash(data: canonicalBytes))
        }
        return prefix + digest.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
