import Foundation

/// A 12-byte MongoDB ObjectId.
public struct BSONObjectId: Sendable, Hashable, CustomStringConvertible, Comparable {
    public let bytes: [UInt8]

    /// From exactly 12 bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 12 else { return nil }
        self.bytes = bytes
    }

    /// From 24 hexadecimal digits (either case); nil for anything else.
    public init?(_ hex: String) {
        guard hex.utf8.count == 24 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(12)
        var iterator = hex.utf8.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            guard let h = Self.nibble(high), let l = Self.nibble(low) else { return nil }
            out.append(h << 4 | l)
        }
        bytes = out
    }

    /// A new ObjectId: 4-byte seconds, 5 random bytes, 3-byte counter (as drivers do).
    public init() {
        let seconds = UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970))
        let counter = Self.counter.next()
        var out: [UInt8] = [
            UInt8(seconds >> 24), UInt8(seconds >> 16 & 0xFF), UInt8(seconds >> 8 & 0xFF), UInt8(seconds & 0xFF),
        ]
        out.append(contentsOf: Self.processUnique)
        out.append(contentsOf: [UInt8(counter >> 16 & 0xFF), UInt8(counter >> 8 & 0xFF), UInt8(counter & 0xFF)])
        bytes = out
    }

    public var hex: String { bytes.lowercaseHex }

    public var description: String { hex }

    public static func < (lhs: BSONObjectId, rhs: BSONObjectId) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static let processUnique: [UInt8] = (0..<5).map { _ in UInt8.random(in: 0...255) }
    private static let counter = ObjectIdCounter()
}

private final class ObjectIdCounter: @unchecked Sendable {
    private var value = UInt32.random(in: 0..<0xFF_FFFF)
    private let lock = NSLock()
    func next() -> UInt32 {
        lock.lock()
        defer { lock.unlock() }
        value = (value &+ 1) & 0xFF_FFFF
        return value
    }
}

/// BSON binary data with its subtype (4 is a UUID).
public struct BSONBinary: Sendable, Hashable {
    public static let subtypeGeneric: UInt8 = 0x00
    public static let subtypeUUID: UInt8 = 0x04

    public let subtype: UInt8
    public let data: [UInt8]

    public init(subtype: UInt8, data: [UInt8]) {
        self.subtype = subtype
        self.data = data
    }

    /// A subtype-4 binary holding `uuid`.
    public init(uuid: UUID) {
        let u = uuid.uuid
        self.init(subtype: Self.subtypeUUID, data: [
            u.0, u.1, u.2, u.3, u.4, u.5, u.6, u.7, u.8, u.9, u.10, u.11, u.12, u.13, u.14, u.15,
        ])
    }

    /// The UUID, when this is a 16-byte subtype-4 binary.
    public var uuid: UUID? {
        guard subtype == Self.subtypeUUID, data.count == 16 else { return nil }
        let d = data
        return UUID(uuid: (d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15]))
    }
}

/// A BSON UTC datetime: milliseconds since the Unix epoch, kept exactly.
public struct BSONDatetime: Sendable, Hashable, Comparable {
    public let millisecondsSinceEpoch: Int64

    public init(millisecondsSinceEpoch: Int64) {
        self.millisecondsSinceEpoch = millisecondsSinceEpoch
    }

    public init(_ date: Date) {
        millisecondsSinceEpoch = Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    public var date: Date { Date(timeIntervalSince1970: Double(millisecondsSinceEpoch) / 1000) }

    public static func < (lhs: BSONDatetime, rhs: BSONDatetime) -> Bool {
        lhs.millisecondsSinceEpoch < rhs.millisecondsSinceEpoch
    }
}

public struct BSONRegularExpression: Sendable, Hashable {
    public let pattern: String
    /// Flags, kept sorted as the BSON specification requires.
    public let options: String

    public init(pattern: String, options: String = "") {
        self.pattern = pattern
        self.options = String(options.sorted())
    }
}

public struct BSONTimestamp: Sendable, Hashable {
    public let timestamp: UInt32
    public let increment: UInt32

    public init(timestamp: UInt32, increment: UInt32) {
        self.timestamp = timestamp
        self.increment = increment
    }
}

/// IEEE 754-2008 128-bit decimal, kept as its two little-endian 64-bit halves.
/// Its text form (`description`) and parsing go through libbson.
public struct BSONDecimal128: Sendable, Hashable {
    public let low: UInt64
    public let high: UInt64

    public init(low: UInt64, high: UInt64) {
        self.low = low
        self.high = high
    }
}
