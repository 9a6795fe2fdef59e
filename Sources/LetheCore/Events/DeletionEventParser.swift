import BSON
import Foundation

/// Reads user-deletion events from outside: MongoDB Atlas App Services authentication
/// trigger events and CloudEvents 1.0, from a JSON body, a decoded JSON object, or an
/// inbox document (BSON). docs/events.md describes the shapes, refusals and dedupe keys.
///
/// Every element gives exactly one `ParsedEvent`, in input order, and one bad element
/// never hides the others. An event is either accepted with a subject whose ids all pass
/// `SubjectBinding.checkPlain`, acknowledged and ignored (not a deletion), or refused
/// with a reason that holds nothing from the event. Nothing is guessed: an id that is
/// not a plain string is refused, never converted, so an event can never widen what is
/// erased.
public struct DeletionEventParser: Sendable {
    public struct Options: Sendable {
        /// The largest body `parse(json:)` reads, in bytes; a larger body is refused
        /// (`oversized`) before any of it is parsed. Default: 1 MiB (1_048_576 bytes).
        public var maximumBytes: Int
        /// The most identities one event may list; more is refused
        /// (`too-many-identities`). Default: 100.
        public var maximumIdentities: Int
        /// The key of dedupe keys: HMAC-SHA256 under this key, or plain SHA-256 when nil.
        /// Keep the same key (or none) for as long as events may be redelivered, as keys
        /// made with different keys differ. Default: nil.
        public var dedupeSecret: SecretKey?

        /// The identifier names the policies declare (`subject.identifiers`): only these
        /// are read from an event (`data.identifiers` of a CloudEvent, `user.data` of an
        /// App Services event); another is refused. Default: none.
        public var declaredIdentifiers: [String]

        public init(maximumBytes: Int = 1_048_576, maximumIdentities: Int = 100, dedupeSecret: SecretKey? = nil,
                    declaredIdentifiers: [String] = []) {
            self.maximumBytes = maximumBytes
            self.maximumIdentities = maximumIdentities
            self.dedupeSecret = dedupeSecret
            self.declaredIdentifiers = declaredIdentifiers
        }
    }

    /// Longest event type or provider type kept, in characters.
    public static let maximumNameLength = 128

    public var options: Options

    public init(options: Options = Options()) {
        self.options = options
    }

    // MARK: Bodies

    /// Parses a body holding one JSON object, a JSON array of objects, or JSON Lines (one
    /// object per line, blank lines ignored).
    ///
    /// - A body over `options.maximumBytes` gives one `oversized` refusal, unread.
    /// - A body whose first character (after a byte-order mark and whitespace) is `[`
    ///   is an array: each element gives one result, refusals carry `.element(index)`.
    ///   An array that is not valid JSON as a whole gives one `bad-json` refusal.
    /// - Otherwise a body that is one JSON value is one event (no location).
    /// - Otherwise a body of two or more non-blank lines is JSON Lines: each non-blank
    ///   line gives one result, refusals carry `.line(number)`. Except when the first
    ///   non-blank line is only `{`: that is a pretty-printed object with a syntax error,
    ///   which gives one `bad-json` refusal with its line and column.
    public func parse(json: Data) -> [ParsedEvent] {
        guard json.count <= options.maximumBytes else { return [.refused(.oversized(maximum: options.maximumBytes))] }
        let bytes = [UInt8](json)
        var start = 0
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
        guard let first = bytes[start...].firstIndex(where: { !Self.isWhitespace($0) }) else {
            return [.refused(.emptyBody)]
        }
        let whole = EventJSONReader.read(bytes, in: start..<bytes.count)
        switch whole {
        case .success(.array(let elements)):
            return elements.enumerated().map { index, element in parse(value: element, location: .element(index)) }
        case .success(let value):
            return [parse(value: value, location: nil)]
        case .failure(let failure):
            guard bytes[first] != UInt8(ascii: "[") else { return [.refused(.badJSON(body: failure))] }
            let lines = Self.nonBlankLines(bytes, from: start)
            guard lines.count >= 2, !Self.isLoneBrace(bytes[lines[0].range]) else {
                return [.refused(.badJSON(body: failure))]
            }
            return lines.map { line in
                switch EventJSONReader.read(bytes, in: line.range, firstLine: line.number) {
                case .success(let value): parse(value: value, location: .line(line.number))
                case .failure(let failure): .refused(.badJSON(line: failure, number: line.number))
                }
            }
        }
    }

    /// Parses one event decoded elsewhere (`JSONSerialization`, a web framework).
    /// Strings, numbers, booleans, `NSNull`, arrays, dictionaries and `Date`s are read;
    /// any other value counts as a wrong type.
    public func parse(object: [String: Any]) -> ParsedEvent {
        parse(value: .document(Self.document(object)), location: nil)
    }

    /// Parses one inbox document, as MongoDB returns it: the same field names as JSON,
    /// with `time` usually a BSON date. Other fields (`_id`, bookkeeping) are ignored.
    public func parse(document: BSONDocument) -> ParsedEvent {
        parse(value: .document(document), location: nil)
    }

    // MARK: Elements

    func parse(value: BSON, location: EventRefusal.Location?) -> ParsedEvent {
        do throws(EventRefusal) {
            guard case .document(let document) = value else { throw .notAnObject(found: Self.kindName(value)) }
            return .accepted(try event(from: document))
        } catch {
            var refusal = error
            refusal.location = location
            return .refused(refusal)
        }
    }

    // MARK: Helpers

    /// "an object", "a string", "a number": how a value's type is named in a refusal.
    static func kindName(_ value: BSON) -> String {
        switch value {
        case .document: "an object"
        case .array: "an array"
        case .string: "a string"
        case .int32, .int64, .double, .decimal128: "a number"
        case .bool: "a boolean"
        case .null: "null"
        case .datetime: "a date"
        case .undefined: "a value of an unsupported type"
        default: "a BSON \(value.typeName)"
        }
    }

    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
    }

    /// The lines of `bytes` from `start` that hold more than whitespace, numbered from 1,
    /// without their line feed.
    static func nonBlankLines(_ bytes: [UInt8], from start: Int) -> [(number: Int, range: Range<Int>)] {
        var lines: [(number: Int, range: Range<Int>)] = []
        var number = 1
        var lineStart = start
        for index in start...bytes.count where index == bytes.count || bytes[index] == UInt8(ascii: "\n") {
            let range = lineStart..<index
            if bytes[range].contains(where: { !isWhitespace($0) }) { lines.append((number, range)) }
            number += 1
            lineStart = index + 1
        }
        return lines
    }

    static func isLoneBrace(_ line: ArraySlice<UInt8>) -> Bool {
        line.filter { !isWhitespace($0) } == [UInt8(ascii: "{")]
    }

    /// A decoded JSON object as BSON. `NSNumber`s made from JSON booleans are booleans.
    static func document(_ object: [String: Any]) -> BSONDocument {
        var document = BSONDocument()
        for (key, value) in object { document.append(key, bson(value)) }
        return document
    }

    static func bson(_ value: Any) -> BSON {
        switch value {
        case let text as String: return .string(text)
        case let object as [String: Any]: return .document(document(object))
        case let array as [Any]: return .array(array.map(bson))
        case let date as Date: return .datetime(BSONDatetime(date))
        case is NSNull: return .null
        default: break
        }
        // Exact Swift types first: on Linux `1 is Bool` holds for an NSNumber.
        switch ObjectIdentifier(type(of: value)) {
        case ObjectIdentifier(Bool.self): return .bool(value as! Bool)
        case ObjectIdentifier(Int.self): return .int64(Int64(value as! Int))
        case ObjectIdentifier(Int64.self): return .int64(value as! Int64)
        case ObjectIdentifier(Int32.self): return .int64(Int64(value as! Int32))
        case ObjectIdentifier(Double.self): return .double(value as! Double)
        default: break
        }
        if let number = value as? NSNumber {
            let type = String(cString: number.objCType)
            if type == "c" || type == "B" { return .bool(number.boolValue) }
            if type == "d" || type == "f" { return .double(number.doubleValue) }
            return .int64(number.int64Value)
        }
        return .undefined
    }
}
