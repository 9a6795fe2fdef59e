/// One BSON value. Every BSON type MongoDB still writes has a case; the deprecated
/// `dbPointer` and `codeWithScope` are refused when decoding (see `BSONDecodingError`).
public enum BSON: Sendable, Hashable {
    case double(Double)
    case string(String)
    case document(BSONDocument)
    case array([BSON])
    case binary(BSONBinary)
    case undefined
    case objectId(BSONObjectId)
    case bool(Bool)
    case datetime(BSONDatetime)
    case null
    case regex(BSONRegularExpression)
    case javascript(String)
    case symbol(String)
    case int32(Int32)
    case timestamp(BSONTimestamp)
    case int64(Int64)
    case decimal128(BSONDecimal128)
    case minKey
    case maxKey

    /// The BSON type byte, as in the BSON specification.
    public var typeByte: UInt8 {
        switch self {
        case .double: 0x01
        case .string: 0x02
        case .document: 0x03
        case .array: 0x04
        case .binary: 0x05
        case .undefined: 0x06
        case .objectId: 0x07
        case .bool: 0x08
        case .datetime: 0x09
        case .null: 0x0A
        case .regex: 0x0B
        case .javascript: 0x0D
        case .symbol: 0x0E
        case .int32: 0x10
        case .timestamp: 0x11
        case .int64: 0x12
        case .decimal128: 0x13
        case .minKey: 0xFF
        case .maxKey: 0x7F
        }
    }

    /// A name for the type, as MongoDB's `$type` operator spells it. Used in messages
    /// where the value itself must not be shown.
    public var typeName: String {
        switch self {
        case .double: "double"
        case .string: "string"
        case .document: "object"
        case .array: "array"
        case .binary: "binData"
        case .undefined: "undefined"
        case .objectId: "objectId"
        case .bool: "bool"
        case .datetime: "date"
        case .null: "null"
        case .regex: "regex"
        case .javascript: "javascript"
        case .symbol: "symbol"
        case .int32: "int"
        case .timestamp: "timestamp"
        case .int64: "long"
        case .decimal128: "decimal"
        case .minKey: "minKey"
        case .maxKey: "maxKey"
        }
    }

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var documentValue: BSONDocument? { if case .document(let d) = self { d } else { nil } }
    public var arrayValue: [BSON]? { if case .array(let a) = self { a } else { nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var objectIdValue: BSONObjectId? { if case .objectId(let o) = self { o } else { nil } }
    public var datetimeValue: BSONDatetime? { if case .datetime(let d) = self { d } else { nil } }

    /// Any integer or integral double as `Int64`; nil for anything else.
    public var int64Value: Int64? {
        switch self {
        case .int32(let v): Int64(v)
        case .int64(let v): v
        case .double(let d) where d.rounded() == d && abs(d) < 9.0e15: Int64(d)
        default: nil
        }
    }

    public var intValue: Int? { int64Value.map { Int($0) } }
}

extension BSON: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}

extension BSON: ExpressibleByIntegerLiteral {
    /// Integer literals become int32 when they fit, as the shell does, else int64.
    public init(integerLiteral value: Int) {
        if let small = Int32(exactly: value) { self = .int32(small) } else { self = .int64(Int64(value)) }
    }
}

extension BSON: ExpressibleByFloatLiteral {
    public init(floatLiteral value: Double) { self = .double(value) }
}

extension BSON: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension BSON: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: BSON...) { self = .array(elements) }
}

extension BSON: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, BSON)...) {
        self = .document(BSONDocument(elements))
    }
}

extension BSON: ExpressibleByNilLiteral {
    public init(nilLiteral: ()) { self = .null }
}

extension BSON {
    /// Values compare as the database holds them: strings (and JavaScript code and
    /// symbols) by their UTF-8 bytes. Swift's `String` equality is Unicode canonical
    /// equivalence, under which "caf\u{E9}" and "cafe\u{301}" are one string while
    /// MongoDB stores, matches and deletes them as two; an id compared that way could
    /// be dropped as a duplicate and its documents left behind.
    public static func == (lhs: BSON, rhs: BSON) -> Bool {
        switch (lhs, rhs) {
        case (.string(let a), .string(let b)), (.javascript(let a), .javascript(let b)), (.symbol(let a), .symbol(let b)):
            a.utf8.elementsEqual(b.utf8)
        case (.double(let a), .double(let b)): a == b
        case (.document(let a), .document(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.binary(let a), .binary(let b)): a == b
        case (.objectId(let a), .objectId(let b)): a == b
        case (.bool(let a), .bool(let b)): a == b
        case (.datetime(let a), .datetime(let b)): a == b
        case (.regex(let a), .regex(let b)): a == b
        case (.int32(let a), .int32(let b)): a == b
        case (.timestamp(let a), .timestamp(let b)): a == b
        case (.int64(let a), .int64(let b)): a == b
        case (.decimal128(let a), .decimal128(let b)): a == b
        case (.undefined, .undefined), (.null, .null), (.minKey, .minKey), (.maxKey, .maxKey): true
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(typeByte)
        switch self {
        case .string(let text), .javascript(let text), .symbol(let text): hasher.combineUTF8(text)
        case .double(let value): hasher.combine(value)
        case .document(let value): hasher.combine(value)
        case .array(let value): hasher.combine(value)
        case .binary(let value): hasher.combine(value)
        case .objectId(let value): hasher.combine(value)
        case .bool(let value): hasher.combine(value)
        case .datetime(let value): hasher.combine(value)
        case .regex(let value): hasher.combine(value)
        case .int32(let value): hasher.combine(value)
        case .timestamp(let value): hasher.combine(value)
        case .int64(let value): hasher.combine(value)
        case .decimal128(let value): hasher.combine(value)
        case .undefined, .null, .minKey, .maxKey: break
        }
    }
}

extension Hasher {
    /// Feeds a string's UTF-8 bytes (and their count), as byte-wise equality needs.
    public mutating func combineUTF8(_ text: String) {
        var copy = text
        copy.withUTF8 { combine(bytes: UnsafeRawBufferPointer($0)) }
        combine(text.utf8.count)
    }
}
