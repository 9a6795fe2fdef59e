/// Why bytes could not be read as BSON. Carries positions and type bytes only, never
/// the data itself.
public struct BSONDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    public let reason: String
    public let offset: Int

    public init(reason: String, offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String { "invalid BSON at byte \(offset): \(reason)" }
}

extension BSONDocument {
    /// Deepest nesting accepted when decoding; deeper input is refused, not recursed into.
    public static let maximumNestingDepth = 100

    /// Decodes one BSON document from its binary form, checking every length and
    /// terminator against the buffer.
    public init(bsonBytes bytes: [UInt8]) throws(BSONDecodingError) {
        self = try bytes.withUnsafeBufferPointer { buffer throws(BSONDecodingError) in
            try BSONDocument(bsonBuffer: UnsafeRawBufferPointer(buffer))
        }
    }

    /// Decodes from raw memory that stays valid for the duration of the call.
    public init(bsonBuffer buffer: UnsafeRawBufferPointer) throws(BSONDecodingError) {
        var reader = BSONReader(buffer: buffer)
        self = try reader.readDocument(depth: 0)
        guard reader.offset == buffer.count else {
            throw BSONDecodingError(reason: "trailing bytes after the document", offset: reader.offset)
        }
    }

    /// The document in BSON's binary form.
    public var bsonBytes: [UInt8] {
        var writer = BSONWriter()
        writer.write(document: self)
        return writer.bytes
    }
}

/// The keys of the first array positions, made once: every array element needs one.
private let arrayKeys = (0..<1_000).map(String.init)

struct BSONWriter {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(256) }

    mutating func write(document: BSONDocument) {
        let start = bytes.count
        appendInt32(0)
        for (key, value) in document { write(key: key, value: value) }
        bytes.append(0)
        patchLength(at: start)
    }

    mutating func write(array: [BSON]) {
        let start = bytes.count
        appendInt32(0)
        for (index, value) in array.enumerated() { write(key: index < arrayKeys.count ? arrayKeys[index] : String(index), value: value) }
        bytes.append(0)
        patchLength(at: start)
    }

    private mutating func patchLength(at start: Int) {
        let length = UInt32(bytes.count - start)
        bytes[start] = UInt8(length & 0xFF)
        bytes[start + 1] = UInt8(length >> 8 & 0xFF)
        bytes[start + 2] = UInt8(length >> 16 & 0xFF)
        bytes[start + 3] = UInt8(length >> 24 & 0xFF)
    }

    private mutating func write(key: String, value: BSON) {
        bytes.append(value.typeByte)
        appendCString(key)
        switch value {
        case .double(let d): appendUInt64(d.bitPattern)
        case .string(let s), .javascript(let s), .symbol(let s): appendString(s)
        case .document(let d): write(document: d)
        case .array(let a): write(array: a)
        case .binary(let b):
            appendInt32(Int32(b.data.count))
            bytes.append(b.subtype)
            bytes.append(contentsOf: b.data)
        case .undefined, .null, .minKey, .maxKey: break
        case .objectId(let o): bytes.append(contentsOf: o.bytes)
        case .bool(let b): bytes.append(b ? 1 : 0)
        case .datetime(let d): appendUInt64(UInt64(bitPattern: d.millisecondsSinceEpoch))
        case .regex(let r):
            appendCString(r.pattern)
            appendCString(r.options)
        case .int32(let i): appendInt32(i)
        case .timestamp(let t):
            appendUInt32(t.increment)
            appendUInt32(t.timestamp)
        case .int64(let i): appendUInt64(UInt64(bitPattern: i))
        case .decimal128(let d):
            appendUInt64(d.low)
            appendUInt64(d.high)
        }
    }

    private mutating func appendCString(_ s: String) {
        // BSON keys and regexes are C strings: an embedded NUL would cut them short, so
        // it is dropped rather than allowed to change the meaning of the document.
        // Checked first: appending the plain UTF-8 view copies in bulk, a filtered one
        // byte by byte (the keys of every document of every batch pass here).
        if s.utf8.contains(0) {
            bytes.append(contentsOf: s.utf8.lazy.filter { $0 != 0 })
        } else {
            bytes.append(contentsOf: s.utf8)
        }
        bytes.append(0)
    }

    private mutating func appendString(_ s: String) {
        let utf8 = s.utf8
        appendInt32(Int32(utf8.count + 1))
        bytes.append(contentsOf: utf8)
        bytes.append(0)
    }

    private mutating func appendInt32(_ v: Int32) { appendUInt32(UInt32(bitPattern: v)) }

    private mutating func appendUInt32(_ v: UInt32) {
        bytes.append(UInt8(v & 0xFF))
        bytes.append(UInt8(v >> 8 & 0xFF))
        bytes.append(UInt8(v >> 16 & 0xFF))
        bytes.append(UInt8(v >> 24 & 0xFF))
    }

    private mutating func appendUInt64(_ v: UInt64) {
        appendUInt32(UInt32(v & 0xFFFF_FFFF))
        appendUInt32(UInt32(v >> 32))
    }
}

struct BSONReader {
    let buffer: UnsafeRawBufferPointer
    var offset = 0

    init(buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    private func fail(_ reason: String) -> BSONDecodingError {
        BSONDecodingError(reason: reason, offset: offset)
    }

    private mutating func need(_ count: Int) throws(BSONDecodingError) {
        guard count >= 0, offset + count <= buffer.count else { throw fail("truncated: \(count) more bytes expected") }
    }

    private mutating func readByte() throws(BSONDecodingError) -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return buffer[offset]
    }

    private mutating func readUInt32() throws(BSONDecodingError) -> UInt32 {
        try need(4)
        defer { offset += 4 }
        return UInt32(buffer[offset]) | UInt32(buffer[offset + 1]) << 8
            | UInt32(buffer[offset + 2]) << 16 | UInt32(buffer[offset + 3]) << 24
    }

    private mutating func readInt32() throws(BSONDecodingError) -> Int32 { Int32(bitPattern: try readUInt32()) }

    private mutating func readUInt64() throws(BSONDecodingError) -> UInt64 {
        let low = UInt64(try readUInt32())
        let high = UInt64(try readUInt32())
        return high << 32 | low
    }

    private mutating func readBytes(_ count: Int) throws(BSONDecodingError) -> [UInt8] {
        try need(count)
        defer { offset += count }
        return Array(buffer[offset..<offset + count])
    }

    private mutating func readCString() throws(BSONDecodingError) -> String {
        var end = offset
        while end < buffer.count, buffer[end] != 0 { end += 1 }
        guard end < buffer.count else { throw fail("unterminated C string") }
        let slice = UnsafeRawBufferPointer(rebasing: buffer[offset..<end])
        guard let s = String(validating: slice, as: UTF8.self) else { throw fail("invalid UTF-8 in a key") }
        offset = end + 1
        return s
    }

    private mutating func readString() throws(BSONDecodingError) -> String {
        let length = Int(try readInt32())
        guard length >= 1 else { throw fail("string length \(length) below 1") }
        try need(length)
        guard buffer[offset + length - 1] == 0 else { throw fail("string not NUL-terminated") }
        let slice = UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + length - 1])
        guard let s = String(validating: slice, as: UTF8.self) else { throw fail("invalid UTF-8 in a string") }
        offset += length
        return s
    }

    mutating func readDocument(depth: Int) throws(BSONDecodingError) -> BSONDocument {
        var document = BSONDocument()
        try readElements(depth: depth) { key, value in document.append(key, value) }
        return document
    }

    private mutating func readArray(depth: Int) throws(BSONDecodingError) -> [BSON] {
        var array: [BSON] = []
        try readElements(depth: depth) { _, value in array.append(value) }
        return array
    }

    private mutating func readElements(
        depth: Int, _ body: (String, BSON) -> Void
    ) throws(BSONDecodingError) {
        guard depth <= BSONDocument.maximumNestingDepth else { throw fail("nested deeper than \(BSONDocument.maximumNestingDepth)") }
        let start = offset
        let length = Int(try readInt32())
        guard length >= 5, start + length <= buffer.count else { throw fail("document length \(length) does not fit the buffer") }
        let end = start + length - 1
        while offset < end {
            let type = try readByte()
            let key = try readCString()
            body(key, try readValue(type: type, depth: depth))
        }
        guard offset == end, buffer[end] == 0 else { throw fail("document length does not match its elements") }
        offset = end + 1
    }

    private mutating func readValue(type: UInt8, depth: Int) throws(BSONDecodingError) -> BSON {
        switch type {
        case 0x01: return .double(Double(bitPattern: try readUInt64()))
        case 0x02: return .string(try readString())
        case 0x03: return .document(try readDocument(depth: depth + 1))
        case 0x04: return .array(try readArray(depth: depth + 1))
        case 0x05:
            let length = Int(try readInt32())
            guard length >= 0 else { throw fail("negative binary length") }
            let subtype = try readByte()
            var data = try readBytes(length)
            // Subtype 2 (old binary) wraps its payload in a second length.
            if subtype == 0x02, data.count >= 4 { data = Array(data.dropFirst(4)) }
            return .binary(BSONBinary(subtype: subtype, data: data))
        case 0x06: return .undefined
        case 0x07: return .objectId(BSONObjectId(bytes: try readBytes(12))!)
        case 0x08:
            let b = try readByte()
            guard b <= 1 else { throw fail("boolean byte \(b)") }
            return .bool(b == 1)
        case 0x09: return .datetime(BSONDatetime(millisecondsSinceEpoch: Int64(bitPattern: try readUInt64())))
        case 0x0A: return .null
        case 0x0B:
            let pattern = try readCString()
            let options = try readCString()
            return .regex(BSONRegularExpression(pattern: pattern, options: options))
        case 0x0D: return .javascript(try readString())
        case 0x0E: return .symbol(try readString())
        case 0x10: return .int32(try readInt32())
        case 0x11:
            let increment = try readUInt32()
            let timestamp = try readUInt32()
            return .timestamp(BSONTimestamp(timestamp: timestamp, increment: increment))
        case 0x12: return .int64(Int64(bitPattern: try readUInt64()))
        case 0x13:
            let low = try readUInt64()
            let high = try readUInt64()
            return .decimal128(BSONDecimal128(low: low, high: high))
        case 0xFF: return .minKey
        case 0x7F: return .maxKey
        case 0x0C, 0x0F: throw fail("deprecated BSON type 0x\(String(type, radix: 16)) (dbPointer/codeWithScope) is not supported")
        default: throw fail("unknown BSON type 0x\(String(type, radix: 16))")
        }
    }
}
