import BSON

/// A strict JSON reader (RFC 8259) for event bodies that yields BSON values, so that a
/// JSON body and an inbox document go through the same event parser.
///
/// Stricter than `JSONSerialization` on purpose, because events are input from outside:
/// an object with the same key twice is refused (two parsers could otherwise read two
/// different user ids from one event), strings must be valid UTF-8 without lone
/// surrogates, nesting is limited, and numbers keep their integer or floating form.
/// Failures say what was wrong and where (line and column), never what the text was.
struct EventJSONReader {
    /// Deepest nesting of objects and arrays accepted.
    static let maximumDepth = 64

    struct Failure: Error, Hashable {
        /// What was wrong, without any of the text: "unexpected character".
        let problem: String
        /// From 1, counted in the whole body.
        let line: Int
        /// From 1, in characters (Unicode scalars) from the start of the line.
        let column: Int
    }

    private let bytes: [UInt8]
    private let end: Int
    private var index: Int
    private var line: Int
    private var lineStart: Int

    private init(bytes: [UInt8], range: Range<Int>, line: Int) {
        self.bytes = bytes
        self.end = range.upperBound
        self.index = range.lowerBound
        self.line = line
        self.lineStart = range.lowerBound
    }

    /// Reads exactly one JSON value from `bytes[range]`; only whitespace may surround it.
    /// `firstLine` is the line number of `range.lowerBound` in the body.
    static func read(_ bytes: [UInt8], in range: Range<Int>, firstLine: Int = 1) -> Result<BSON, Failure> {
        var reader = EventJSONReader(bytes: bytes, range: range, line: firstLine)
        do throws(Failure) {
            reader.skipWhitespace()
            let value = try reader.readValue(depth: 0)
            reader.skipWhitespace()
            guard reader.index == reader.end else { throw reader.failure("content after the JSON value") }
            return .success(value)
        } catch {
            return .failure(error)
        }
    }

    // MARK: Values

    private mutating func readValue(depth: Int) throws(Failure) -> BSON {
        guard index < end else { throw failure("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try readObject(depth: depth + 1)
        case UInt8(ascii: "["): return try readArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try readString())
        case UInt8(ascii: "t"): try readLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try readLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try readLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try readNumber()
        default: throw failure("unexpected character")
        }
    }

    private mutating func readObject(depth: Int) throws(Failure) -> BSON {
        guard depth <= Self.maximumDepth else { throw failure("nested deeper than \(Self.maximumDepth) levels") }
        index += 1
        var document = BSONDocument()
        var seen = Set<String>()
        skipWhitespace()
        if index < end, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .document(document)
        }
        while true {
            skipWhitespace()
            guard index < end else { throw failure("unexpected end of input") }
            guard bytes[index] == UInt8(ascii: "\"") else { throw failure("expected a quoted key") }
            let keyStart = (index, line, lineStart)
            let key = try readString()
            guard seen.insert(key).inserted else {
                (index, line, lineStart) = keyStart
                throw failure("the same key twice in one object")
            }
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "expected ':' after a key")
            skipWhitespace()
            document.append(key, try readValue(depth: depth))
            skipWhitespace()
            guard index < end else { throw failure("unexpected end of input") }
            switch bytes[index] {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): index += 1; return .document(document)
            default: throw failure("expected ',' or '}'")
            }
        }
    }

    private mutating func readArray(depth: Int) throws(Failure) -> BSON {
        guard depth <= Self.maximumDepth else { throw failure("nested deeper than \(Self.maximumDepth) levels") }
        index += 1
        var elements: [BSON] = []
        skipWhitespace()
        if index < end, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try readValue(depth: depth))
            skipWhitespace()
            guard index < end else { throw failure("unexpected end of input") }
            switch bytes[index] {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return .array(elements)
            default: throw failure("expected ',' or ']'")
            }
        }
    }

    private mutating func readLiteral(_ word: String) throws(Failure) {
        let literal = Array(word.utf8)
        guard end - index >= literal.count, bytes[index..<(index + literal.count)].elementsEqual(literal) else {
            throw failure("unexpected character")
        }
        index += literal.count
    }

    private mutating func readNumber() throws(Failure) -> BSON {
        let start = index
        var integral = true
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < end, isDigit(bytes[index]) else { throw failure("invalid number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < end, isDigit(bytes[index]) { throw failure("invalid number (leading zero)") }
        } else {
            while index < end, isDigit(bytes[index]) { index += 1 }
        }
        if index < end, bytes[index] == UInt8(ascii: ".") {
            integral = false
            index += 1
            guard index < end, isDigit(bytes[index]) else { throw failure("invalid number") }
            while index < end, isDigit(bytes[index]) { index += 1 }
        }
        if index < end, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            integral = false
            index += 1
            if index < end, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < end, isDigit(bytes[index]) else { throw failure("invalid number") }
            while index < end, isDigit(bytes[index]) { index += 1 }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if integral, let value = Int64(text) { return .int64(value) }
        guard let value = Double(text), value.isFinite else {
            index = start
            throw failure("number out of range")
        }
        return .double(value)
    }

    private mutating func readString() throws(Failure) -> String {
        let start = index
        index += 1
        var buffer: [UInt8] = []
        while true {
            guard index < end else {
                index = start
                throw failure("unterminated string")
            }
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                guard let text = String(validating: buffer, as: UTF8.self) else {
                    index = start
                    throw failure("invalid UTF-8 in a string")
                }
                return text
            case UInt8(ascii: "\\"):
                index += 1
                guard index < end else { continue }
                let escaped = bytes[index]
                index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): buffer.append(escaped)
                case UInt8(ascii: "b"): buffer.append(0x08)
                case UInt8(ascii: "f"): buffer.append(0x0C)
                case UInt8(ascii: "n"): buffer.append(0x0A)
                case UInt8(ascii: "r"): buffer.append(0x0D)
                case UInt8(ascii: "t"): buffer.append(0x09)
                case UInt8(ascii: "u"): buffer.append(contentsOf: try readUnicodeEscape())
                default:
                    index -= 2
                    throw failure("invalid escape sequence")
                }
            case 0x00..<0x20:
                throw failure("control character in a string (it must be escaped)")
            default:
                buffer.append(byte)
                index += 1
            }
        }
    }

    /// After `\u`: four hex digits, and a second `\uXXXX` for a surrogate pair. Returns
    /// the scalar's UTF-8 bytes.
    private mutating func readUnicodeEscape() throws(Failure) -> [UInt8] {
        let escapeStart = index - 2
        let first = try readHex4(escapeStart: escapeStart)
        var scalarValue = UInt32(first)
        if (0xD800...0xDBFF).contains(first) {
            guard end - index >= 2, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                index = escapeStart
                throw failure("invalid \\u escape (a lone surrogate)")
            }
            index += 2
            let second = try readHex4(escapeStart: escapeStart)
            guard (0xDC00...0xDFFF).contains(second) else {
                index = escapeStart
                throw failure("invalid \\u escape (a lone surrogate)")
            }
            scalarValue = 0x10000 + ((UInt32(first) - 0xD800) << 10) + (UInt32(second) - 0xDC00)
        } else if (0xDC00...0xDFFF).contains(first) {
            index = escapeStart
            throw failure("invalid \\u escape (a lone surrogate)")
        }
        guard let scalar = Unicode.Scalar(scalarValue) else {
            index = escapeStart
            throw failure("invalid \\u escape")
        }
        return Array(String(Character(scalar)).utf8)
    }

    private mutating func readHex4(escapeStart: Int) throws(Failure) -> UInt16 {
        guard end - index >= 4 else {
            index = escapeStart
            throw failure("invalid \\u escape")
        }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default:
                index = escapeStart
                throw failure("invalid \\u escape")
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }

    // MARK: Whitespace and positions

    private mutating func skipWhitespace() {
        while index < end {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                index += 1
            case UInt8(ascii: "\n"):
                index += 1
                line += 1
                lineStart = index
            default:
                return
            }
        }
    }

    private mutating func expect(_ byte: UInt8, _ problem: String) throws(Failure) {
        guard index < end, bytes[index] == byte else { throw failure(problem) }
        index += 1
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// A failure at the current position. The column counts Unicode scalars, so it
    /// skips UTF-8 continuation bytes.
    private func failure(_ problem: String) -> Failure {
        let upTo = min(index, end)
        let column = bytes[lineStart..<max(lineStart, upTo)].reduce(1) { count, byte in
            byte & 0xC0 == 0x80 ? count : count + 1
        }
        return Failure(problem: problem, line: line, column: column)
    }
}
