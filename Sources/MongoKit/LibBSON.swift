internal import CMongoC
import BSON

/// Owns one heap `bson_t` (from `bson_new*` or a shim copy) and frees it on deinit.
/// The pointer is handed out only inside `withPointer`, and must not escape it.
final class OwnedBSON {
    private let pointer: OpaquePointer

    /// Copies `document` into a new libbson document.
    init(_ document: BSONDocument) {
        let bytes = document.bsonBytes
        pointer = bytes.withUnsafeBufferPointer { buffer in
            // bson_new_from_data only fails for lengths it cannot read; our encoder
            // always writes a well-formed length prefix.
            bson_new_from_data(buffer.baseAddress, buffer.count)!
        }
    }

    /// Takes ownership of a heap `bson_t`.
    init(taking pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit { bson_destroy(pointer) }

    func withPointer<T>(_ body: (OpaquePointer) throws -> T) rethrows -> T {
        try body(pointer)
    }

    func document() throws(BSONDecodingError) -> BSONDocument {
        try BSONDocument(libbson: pointer)
    }
}

/// Runs `body` with a libbson copy of `document`, or NULL when it is nil.
func withOptionalBSON<T>(_ document: BSONDocument?, _ body: (OpaquePointer?) throws -> T) rethrows -> T {
    guard let document else { return try body(nil) }
    return try OwnedBSON(document).withPointer { try body($0) }
}

func withBSON<T>(_ document: BSONDocument, _ body: (OpaquePointer) throws -> T) rethrows -> T {
    try OwnedBSON(document).withPointer { try body($0) }
}

extension BSONDocument {
    /// Reads a libbson document that stays valid for the duration of the call.
    init(libbson pointer: OpaquePointer) throws(BSONDecodingError) {
        let length = Int(lethe_bson_length(pointer))
        guard let data = bson_get_data(pointer) else {
            throw BSONDecodingError(reason: "libbson returned no data", offset: 0)
        }
        try self.init(bsonBuffer: UnsafeRawBufferPointer(start: data, count: length))
    }
}

extension bson_error_t {
    var messageText: String {
        withUnsafeBytes(of: message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}

// MARK: - Extended JSON (MongoDB Extended JSON v2, through libbson)

/// The two output forms of MongoDB Extended JSON v2.
public enum ExtendedJSONMode: Sendable {
    /// Type-preserving: every number and date wrapped (`{"$numberInt": "1"}`).
    case canonical
    /// Readable: native JSON numbers where lossless, ISO-8601 dates in range.
    case relaxed
}

extension BSONDocument {
    /// Parses canonical or relaxed Extended JSON (plain JSON too) into a document.
    /// The error says where parsing failed; it never quotes the input.
    public init(extendedJSON json: String) throws(MongoError) {
        var error = bson_error_t()
        let bytes = Array(json.utf8)
        let parsed: OpaquePointer? = bytes.withUnsafeBufferPointer { buffer in
            bson_new_from_json(buffer.baseAddress, buffer.count, &error)
        }
        guard let parsed else {
            throw MongoError(
                code: .invalidArgument, operation: "parseExtendedJSON",
                message: "not valid Extended JSON (a JSON object is expected)",
                detail: error.messageText
            )
        }
        do {
            self = try OwnedBSON(taking: parsed).document()
        } catch {
            throw MongoError(code: .invalidBSON, operation: "parseExtendedJSON", message: error.description)
        }
    }

    /// This document as Extended JSON text.
    public func extendedJSON(_ mode: ExtendedJSONMode = .relaxed) -> String {
        withBSON(self) { pointer in
            var length = 0
            let text: UnsafeMutablePointer<CChar>? = switch mode {
            case .canonical: bson_as_canonical_extended_json(pointer, &length)
            case .relaxed: bson_as_relaxed_extended_json(pointer, &length)
            }
            guard let text else { return "{}" }
            defer { bson_free(text) }
            return String(cString: text)
        }
    }
}

extension BSONDecimal128 {
    /// Parses a decimal string ("1.5", "-0", "Infinity", "NaN", "1E+10") exactly.
    public init?(text: String) {
        var value = bson_decimal128_t()
        guard bson_decimal128_from_string(text, &value) else { return nil }
        self.init(low: value.low, high: value.high)
    }

    /// The exact decimal text of this value.
    public var text: String {
        var value = bson_decimal128_t(low: low, high: high)
        var buffer = [CChar](repeating: 0, count: Int(BSON_DECIMAL128_STRING))
        bson_decimal128_to_string(&value, &buffer)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Checks bytes with libbson's own validator: used by tests to prove that what the
/// Swift encoder writes is what libbson reads.
public enum LibBSON {
    public static func roundTrip(_ document: BSONDocument) throws -> BSONDocument {
        let owned = OwnedBSON(document)
        let valid = owned.withPointer { pointer -> Bool in
            var offset = 0
            return bson_validate(pointer, BSON_VALIDATE_UTF8, &offset)
        }
        guard valid else {
            throw MongoError(code: .invalidBSON, operation: "validate", message: "libbson rejected the encoded document")
        }
        return try owned.document()
    }
}
