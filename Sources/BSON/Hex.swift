extension Sequence<UInt8> {
    /// Lowercase hexadecimal, two digits per byte. Built from a digit table:
    /// `String(format: "%02x")` per byte cost a sixth of a batch's CPU when hashing.
    public var lowercaseHex: String {
        var out: [UInt8] = []
        out.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

private let hexDigits = Array("0123456789abcdef".utf8)

/// `count` random bytes as lowercase hex: the random part of Lethe's ids.
public func randomHex(bytes count: Int) -> String {
    (0..<count).map { _ in UInt8.random(in: 0...255) }.lowercaseHex
}
