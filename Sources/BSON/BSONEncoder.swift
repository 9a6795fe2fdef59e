import Foundation

/// Encodes `Encodable` values straight into BSON, with no JSON text in between.
///
/// Values take the shapes that going through `JSONEncoder` and Extended JSON gave them,
/// so that documents written either way read and query alike:
/// - integers of every width: int32 when the value fits, else int64;
/// - `Double` and `Float`: double (the JSON path turned an integral double into an
///   int32; `BSONDecoder` reads either);
/// - `Date`: datetime, in milliseconds (`BSONDatetime(date)`);
/// - `UUID` (`uuidString`), `URL` (`absoluteString`) and `Data` (base64): strings;
/// - `Decimal`: an integer when it is one, else a double, as its JSON number was read;
/// - nil optionals: left out (`encodeIfPresent`), fields in the order they are encoded,
///   a value that encodes nothing: an empty document.
public struct BSONEncoder: Sendable {
    /// Handed to every `encode(to:)` as `Encoder.userInfo`. Empty by default.
    public var userInfo: [CodingUserInfoKey: any Sendable] = [:]

    public init() {}

    /// `value` as a document. Throws `EncodingError.invalidValue` when it encodes as
    /// anything else (a string, an array).
    public func encode<T: Encodable>(_ value: T) throws -> BSONDocument {
        guard case .document(let document) = try encodeValue(value) else {
            throw EncodingError.invalidValue(value, .init(codingPath: [], debugDescription: "\(T.self) does not encode as a document"))
        }
        return document
    }

    /// `value` as one BSON value.
    public func encodeValue<T: Encodable>(_ value: T) throws -> BSON {
        let encoder = BSONValueEncoder(parent: nil, key: nil, userInfo: userInfo.mapValues { $0 })
        guard let encoded = try encoder.encodeHere(value) else {
            throw EncodingError.invalidValue(value, .init(codingPath: [], debugDescription: "\(T.self) did not encode any values"))
        }
        return encoded
    }
}

/// One level of an encoding: what `encode(to:)` wrote into the containers it asked for.
/// A class so that containers (values) handed out write into the same place.
final class BSONValueEncoder: Encoder, BSONCodingLevel {
    private enum Kind { case empty, single, keyed, unkeyed }

    /// The level above, and this level's key in it (see `BSONCodingLevel`).
    let parent: BSONValueEncoder?
    let key: (any CodingKey)?
    let userInfo: [CodingUserInfoKey: Any]
    private var kind = Kind.empty
    private var single = BSON.null
    private var document = BSONDocument()
    private var array: [BSON] = []
    /// Containers and encoders handed out by `nested…Container` and `superEncoder`:
    /// written after this level moved on, so their values go in at `index` by `finish()`.
    private var deferred: [(index: Int, encoder: BSONValueEncoder)] = []

    init(parent: BSONValueEncoder?, key: (any CodingKey)?, userInfo: [CodingUserInfoKey: Any]) {
        self.parent = parent
        self.key = key
        self.userInfo = userInfo
    }

    /// What was encoded at this level; nil when nothing was.
    func finish() -> BSON? {
        switch kind {
        case .empty:
            return nil
        case .single:
            return single
        case .keyed:
            for (index, encoder) in deferred { document._values[index] = encoder.finish() ?? .document([:]) }
            return .document(document)
        case .unkeyed:
            for (index, encoder) in deferred { array[index] = encoder.finish() ?? .document([:]) }
            return .array(array)
        }
    }

    /// `value` encoded at this encoder's own path (the top level, or through a single
    /// value container): no new level for it.
    func encodeHere<T: Encodable>(_ value: T) throws -> BSON? {
        if let scalar = try Self.scalar(value, at: codingPath) { return scalar }
        kind = .empty
        try value.encode(to: self)
        return finish()
    }

    /// `value` encoded one level below this one, under `key`.
    func encode<T: Encodable>(_ value: T, under key: @autoclosure () -> any CodingKey) throws -> BSON {
        if let scalar = try Self.scalar(value, at: codingPath + [key()]) { return scalar }
        let encoder = BSONValueEncoder(parent: self, key: key(), userInfo: userInfo)
        try value.encode(to: encoder)
        return encoder.finish() ?? .document([:])
    }

    /// The BSON of the values stored as one scalar (see `BSONEncoder`); nil for those
    /// that encode themselves into containers. Every type a container has an `encode`
    /// requirement for is here: the containers' one generic `encode` stands for all of
    /// them, so a type left out would call itself through its `encode(to:)`.
    private static func scalar<T: Encodable>(_ value: T, at codingPath: @autoclosure () -> [any CodingKey]) throws -> BSON? {
        // Types are compared before anything is cast: a comparison is cheap, while a
        // failed cast (every struct and array goes past them all) is not.
        if T.self == String.self { return .string(value as! String) }
        if T.self == Int.self { return BSON(integerLiteral: value as! Int) }
        if T.self == Date.self { return .datetime(BSONDatetime(value as! Date)) }
        if T.self == Bool.self { return .bool(value as! Bool) }
        if T.self == Double.self { return .double(value as! Double) }
        // As JSON wrote it: the shortest decimal that reads back as the Float (0.1, not
        // 0.10000000149011612).
        if T.self == Float.self {
            let float = value as! Float
            return .double(Double(float.description) ?? Double(float))
        }
        if T.self == UUID.self { return .string((value as! UUID).uuidString) }
        if T.self == URL.self { return .string((value as! URL).absoluteString) }
        if T.self == Data.self { return .string((value as! Data).base64EncodedString()) }
        if T.self == Decimal.self {
            let text = (value as! Decimal).description
            if let integer = Int64(text) { return BSON(integerLiteral: Int(integer)) }
            return .double(Double(text) ?? .nan)
        }
        guard let integer = value as? any FixedWidthInteger else { return nil }
        if let small = Int32(exactly: integer) { return .int32(small) }
        if let large = Int64(exactly: integer) { return .int64(large) }
        throw EncodingError.invalidValue(value, .init(codingPath: codingPath(), debugDescription: "\(T.self) value does not fit in an int64"))
    }

    // MARK: Containers' writes

    fileprivate func set(_ value: BSON, forKey key: String) {
        if let index = document._keys.firstIndex(of: key) {
            // Written twice: the last write wins, as with JSONEncoder.
            document._values[index] = value
            deferred.removeAll { $0.index == index }
        } else {
            document.append(key, value)
        }
    }

    fileprivate func append(_ value: BSON) { array.append(value) }

    fileprivate var count: Int { array.count }

    fileprivate func setSingle(_ value: BSON) {
        kind = .single
        single = value
    }

    /// A new encoder for `key` of this keyed level, written later by its caller.
    fileprivate func deferredEncoder(forKey key: any CodingKey) -> BSONValueEncoder {
        set(.null, forKey: key.stringValue)
        let encoder = BSONValueEncoder(parent: self, key: key, userInfo: userInfo)
        deferred.append((document._keys.firstIndex(of: key.stringValue)!, encoder))
        return encoder
    }

    /// A new encoder for the next element of this unkeyed level, written later.
    fileprivate func deferredElementEncoder() -> BSONValueEncoder {
        let encoder = BSONValueEncoder(parent: self, key: BSONCodingKey.index(array.count), userInfo: userInfo)
        deferred.append((array.count, encoder))
        array.append(.null)
        return encoder
    }

    // MARK: Encoder

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        begin(.keyed)
        return KeyedEncodingContainer(KeyedContainer<Key>(encoder: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        begin(.unkeyed)
        return UnkeyedContainer(encoder: self)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleValueContainer(encoder: self) }

    /// Asking twice for the same kind of container gives the same fields; asking for
    /// another kind is a programming error, as with JSONEncoder.
    private func begin(_ container: Kind) {
        guard kind != container else { return }
        precondition(kind == .empty, "a \(container) container was asked for where a \(kind) value is already encoded")
        kind = container
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: BSONValueEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }

    mutating func encodeNil(forKey key: Key) throws { encoder.set(.null, forKey: key.stringValue) }

    /// Stands for every `encode(_:forKey:)` requirement, Int, String and Bool included:
    /// `BSONValueEncoder.scalar` tells them apart.
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        encoder.set(try encoder.encode(value, under: key), forKey: key.stringValue)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        encoder.deferredEncoder(forKey: key).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        encoder.deferredEncoder(forKey: key).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { encoder.deferredEncoder(forKey: BSONCodingKey.super) }

    mutating func superEncoder(forKey key: Key) -> any Encoder { encoder.deferredEncoder(forKey: key) }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let encoder: BSONValueEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }
    var count: Int { encoder.count }

    mutating func encodeNil() throws { encoder.append(.null) }

    /// Stands for every `encode(_:)` requirement (see `KeyedContainer`).
    mutating func encode<T: Encodable>(_ value: T) throws {
        encoder.append(try encoder.encode(value, under: BSONCodingKey.index(count)))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        encoder.deferredElementEncoder().container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { encoder.deferredElementEncoder().unkeyedContainer() }

    mutating func superEncoder() -> any Encoder { encoder.deferredElementEncoder() }
}

private struct SingleValueContainer: SingleValueEncodingContainer {
    let encoder: BSONValueEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }

    mutating func encodeNil() throws { encoder.setSingle(.null) }

    /// Stands for every `encode(_:)` requirement (see `KeyedContainer`). A value that
    /// is not a scalar encodes itself at this same level, as a wrapper's payload does.
    mutating func encode<T: Encodable>(_ value: T) throws {
        if let encoded = try encoder.encodeHere(value) { encoder.setSingle(encoded) }
    }
}
