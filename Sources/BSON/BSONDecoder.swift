import Foundation

/// Decodes `Decodable` values straight from BSON, with no JSON text in between.
///
/// Reads what `BSONEncoder` writes, and everything that going through JSON read
/// before it (documents stored that way stay readable):
/// - integers of every width from int32, int64, or a double with an integral value
///   (the JSON path stored integral doubles as int32); `Double` and `Float` from any
///   of the three;
/// - `String` from a string, symbol or JavaScript code; an ObjectId as its hex; a
///   binary as its `uuidString` (UUID subtype) or lowercase hex; a decimal128 as its
///   text when `decimal128Text` is set;
/// - `Date` from a datetime; `UUID` from a string or a UUID binary; `URL` from a
///   string; `Data` from base64 or a binary; `Decimal` from any number;
/// - nil (`decodeNil`) from null and undefined, and from the types the JSON path read
///   as null: minKey, maxKey, regex and timestamp.
/// A missing key throws `DecodingError.keyNotFound`, a value of another type
/// `.typeMismatch`, a null where a value is needed `.valueNotFound`, each with the
/// coding path of the value. Messages name types, never values.
public struct BSONDecoder: Sendable {
    /// Handed to every `init(from:)` as `Decoder.userInfo`. Empty by default.
    public var userInfo: [CodingUserInfoKey: any Sendable] = [:]

    /// The text of a decimal128 read as a `String`. This module does not format
    /// decimals (MongoKit's `BSONDecimal128.text` does, through libbson); while this is
    /// nil, a decimal128 read as a `String` is a type mismatch. Nil by default.
    public var decimal128Text: (@Sendable (BSONDecimal128) -> String)?

    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from document: BSONDocument) throws -> T {
        try decodeValue(type, from: .document(document))
    }

    /// A `T` from any one BSON value (named apart from `decode` so that a dictionary
    /// literal is a document, not ambiguous).
    public func decodeValue<T: Decodable>(_ type: T.Type, from value: BSON) throws -> T {
        let decoder = BSONValueDecoder(value: value, parent: nil, key: nil, userInfo: userInfo.mapValues { $0 }, decimal128Text: decimal128Text)
        return try decoder.unbox(value, as: type, at: []) { decoder }
    }
}

/// One value being decoded.
final class BSONValueDecoder: Decoder, BSONCodingLevel {
    let value: BSON
    /// The level above, and this level's key in it (see `BSONCodingLevel`).
    let parent: BSONValueDecoder?
    let key: (any CodingKey)?
    let userInfo: [CodingUserInfoKey: Any]
    let decimal128Text: (@Sendable (BSONDecimal128) -> String)?

    init(
        value: BSON, parent: BSONValueDecoder?, key: (any CodingKey)?,
        userInfo: [CodingUserInfoKey: Any], decimal128Text: (@Sendable (BSONDecimal128) -> String)?
    ) {
        self.value = value
        self.parent = parent
        self.key = key
        self.userInfo = userInfo
        self.decimal128Text = decimal128Text
    }

    /// `value`, found one level below this one under `key`, as a `T`.
    func unbox<T: Decodable>(_ value: BSON, as type: T.Type, under key: any CodingKey) throws -> T {
        try unbox(value, as: type, at: codingPath + [key]) { self.decoder(for: value, under: key) }
    }

    /// `value` at `path` as a `T`: scalars read here, anything else through its
    /// `init(from:)` with the decoder `decoder()` makes. Every type a container has a
    /// `decode` requirement for is read here: the containers' one generic `decode`
    /// stands for all of them, so a type left out would call itself through its
    /// `init(from:)`.
    func unbox<T: Decodable>(
        _ value: BSON, as type: T.Type, at path: @autoclosure () -> [any CodingKey], decoder: () -> BSONValueDecoder
    ) throws -> T {
        if type == String.self { return try string(value, at: path) as! T }
        if type == Int.self { return try integer(value, as: Int.self, at: path) as! T }
        if type == Date.self {
            guard case .datetime(let datetime) = value else { throw mismatch(type, value, at: path()) }
            return datetime.date as! T
        }
        if type == Bool.self {
            guard case .bool(let bool) = value else { throw mismatch(type, value, at: path()) }
            return bool as! T
        }
        if type == Double.self { return try double(value, as: type, at: path) as! T }
        if let integerType = type as? any (FixedWidthInteger & Decodable).Type {
            return try integer(value, as: integerType, at: path) as! T
        }
        if type == Float.self { return Float(try double(value, as: type, at: path)) as! T }
        if type == UUID.self {
            if case .binary(let binary) = value, let uuid = binary.uuid { return uuid as! T }
            guard let uuid = UUID(uuidString: try string(value, as: type, at: path)) else {
                throw corrupted("not a UUID string", at: path())
            }
            return uuid as! T
        }
        if type == URL.self {
            guard let url = URL(string: try string(value, as: type, at: path)) else { throw corrupted("not a URL", at: path()) }
            return url as! T
        }
        if type == Data.self {
            if case .binary(let binary) = value { return Data(binary.data) as! T }
            guard let data = Data(base64Encoded: try string(value, as: type, at: path)) else {
                throw corrupted("not valid base64", at: path())
            }
            return data as! T
        }
        if type == Decimal.self { return try decimal(value, at: path) as! T }
        return try T(from: decoder())
    }

    /// A decoder for `value`, one level below this one.
    func decoder(for value: BSON, under key: any CodingKey) -> BSONValueDecoder {
        BSONValueDecoder(value: value, parent: self, key: key, userInfo: userInfo, decimal128Text: decimal128Text)
    }

    // MARK: Scalars

    private func string(_ value: BSON, as type: Any.Type = String.self, at path: () -> [any CodingKey]) throws -> String {
        switch value {
        case .string(let string), .symbol(let string), .javascript(let string): return string
        case .objectId(let objectId): return objectId.hex
        case .binary(let binary): return binary.uuid?.uuidString ?? binary.data.lowercaseHex
        case .decimal128(let decimal):
            guard let text = decimal128Text?(decimal) else { throw mismatch(type, value, at: path()) }
            return text
        default: throw mismatch(type, value, at: path())
        }
    }

    private func integer<I: FixedWidthInteger>(_ value: BSON, as type: I.Type, at path: () -> [any CodingKey]) throws -> I {
        let integer: I? = switch value {
        case .int32(let int32): I(exactly: int32)
        case .int64(let int64): I(exactly: int64)
        case .double(let double): I(exactly: double)
        default: throw mismatch(type, value, at: path())
        }
        guard let integer else { throw corrupted("the number is not an integer that fits in \(type)", at: path()) }
        return integer
    }

    private func double(_ value: BSON, as type: Any.Type, at path: () -> [any CodingKey]) throws -> Double {
        switch value {
        case .double(let double): double
        case .int32(let int32): Double(int32)
        case .int64(let int64): Double(int64)
        default: throw mismatch(type, value, at: path())
        }
    }

    /// As JSONDecoder read the number's text, so 0.1 stays 0.1.
    private func decimal(_ value: BSON, at path: () -> [any CodingKey]) throws -> Decimal {
        let text: String? = switch value {
        case .int32(let int32): String(int32)
        case .int64(let int64): String(int64)
        case .double(let double): double.description
        case .decimal128(let decimal): decimal128Text?(decimal)
        default: nil
        }
        guard let text else { throw mismatch(Decimal.self, value, at: path()) }
        guard let decimal = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")) else {
            throw corrupted("not a number Decimal reads", at: path())
        }
        return decimal
    }

    // MARK: Errors

    /// `.valueNotFound` for a null, `.typeMismatch` for anything else.
    func mismatch(_ type: Any.Type, _ value: BSON, at path: [any CodingKey]) -> DecodingError {
        if value.decodesAsNil {
            return .valueNotFound(type, .init(codingPath: path, debugDescription: "expected \(type) but found BSON \(value.typeName)"))
        }
        return .typeMismatch(type, .init(codingPath: path, debugDescription: "expected \(type) but found BSON \(value.typeName)"))
    }

    private func corrupted(_ reason: String, at path: [any CodingKey]) -> DecodingError {
        .dataCorrupted(.init(codingPath: path, debugDescription: reason))
    }

    // MARK: Decoder

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .document(let document) = value else { throw mismatch(BSONDocument.self, value, at: codingPath) }
        return KeyedDecodingContainer(KeyedContainer<Key>(decoder: self, document: document))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let array) = value else { throw mismatch([BSON].self, value, at: codingPath) }
        return UnkeyedContainer(decoder: self, array: array)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { SingleValueContainer(decoder: self) }
}

extension BSON {
    /// Null and undefined, and the types Lethe's JSON path read as null (minKey,
    /// maxKey, regex, timestamp): `decodeNil()` is true for them.
    var decodesAsNil: Bool {
        switch self {
        case .null, .undefined, .minKey, .maxKey, .regex, .timestamp: true
        default: false
        }
    }
}

/// A class: `KeyedDecodingContainer` copies its container for every `decode`, and a
/// copy of one reference costs less than of the decoder and the document's storage.
private final class KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: BSONValueDecoder
    let document: BSONDocument

    init(decoder: BSONValueDecoder, document: BSONDocument) {
        self.decoder = decoder
        self.document = document
    }

    var codingPath: [any CodingKey] { decoder.codingPath }
    var allKeys: [Key] { document.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { document[key.stringValue] != nil }

    func decodeNil(forKey key: Key) throws -> Bool { try value(forKey: key).decodesAsNil }

    /// Stands for every `decode(_:forKey:)` requirement, Int, String and Bool included:
    /// `BSONValueDecoder.unbox` tells them apart.
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try decoder.unbox(value(forKey: key), as: type, under: key)
    }

    /// One look-up where the default takes three (contains, decodeNil, decode).
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let value = document[key.stringValue], !value.decodesAsNil else { return nil }
        return try decoder.unbox(value, as: type, under: key)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try decoder.decoder(for: value(forKey: key), under: key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try decoder.decoder(for: value(forKey: key), under: key).unkeyedContainer()
    }

    /// As with JSONDecoder, a missing key gives a decoder of null, not an error.
    func superDecoder() throws -> any Decoder {
        decoder.decoder(for: document[BSONCodingKey.super.stringValue] ?? .null, under: BSONCodingKey.super)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder { decoder.decoder(for: document[key.stringValue] ?? .null, under: key) }

    private func value(forKey key: Key) throws -> BSON {
        guard let value = document[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no value for the key \"\(key.stringValue)\""))
        }
        return value
    }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let decoder: BSONValueDecoder
    let array: [BSON]
    var currentIndex = 0
    var codingPath: [any CodingKey] { decoder.codingPath }
    var count: Int? { array.count }
    var isAtEnd: Bool { currentIndex >= array.count }

    init(decoder: BSONValueDecoder, array: [BSON]) {
        self.decoder = decoder
        self.array = array
    }

    mutating func decodeNil() throws -> Bool {
        guard try next(Any?.self).decodesAsNil else { return false }
        currentIndex += 1
        return true
    }

    /// Stands for every `decode(_:)` requirement (see `KeyedContainer`).
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let decoded = try decoder.unbox(next(type), as: type, under: BSONCodingKey.index(currentIndex))
        currentIndex += 1
        return decoded
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let container = try nextDecoder(BSONDocument.self).container(keyedBy: type)
        currentIndex += 1
        return container
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let container = try nextDecoder([BSON].self).unkeyedContainer()
        currentIndex += 1
        return container
    }

    mutating func superDecoder() throws -> any Decoder {
        let decoder = try nextDecoder((any Decoder).self)
        currentIndex += 1
        return decoder
    }

    /// The element at `currentIndex`; `.valueNotFound` past the end.
    private func next(_ type: Any.Type) throws -> BSON {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, .init(
                codingPath: codingPath + [BSONCodingKey.index(currentIndex)], debugDescription: "the array has no more elements"
            ))
        }
        return array[currentIndex]
    }

    private func nextDecoder(_ type: Any.Type) throws -> BSONValueDecoder {
        decoder.decoder(for: try next(type), under: BSONCodingKey.index(currentIndex))
    }
}

private struct SingleValueContainer: SingleValueDecodingContainer {
    let decoder: BSONValueDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }

    func decodeNil() -> Bool { decoder.value.decodesAsNil }

    /// Stands for every `decode(_:)` requirement (see `KeyedContainer`). A value that
    /// is not a scalar decodes itself from this same decoder, as a wrapper's payload does.
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try decoder.unbox(decoder.value, as: type, at: codingPath) { decoder }
    }
}
