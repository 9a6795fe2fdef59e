import BSON
import Foundation
import Testing

private enum Colour: String, Codable, Hashable { case red, darkBlue = "dark-blue" }
private enum Priority: Int, Codable, Hashable { case low = 1, high = 9 }

/// Synthesized `Codable` for cases with payloads asks for nested keyed containers:
/// the ones a `BSONValueEncoder` fills in when it finishes.
private enum Shape: Codable, Hashable {
    case circle(radius: Int)
    case pair(Int, String)
    case none
}

private struct Inner: Codable, Hashable {
    var name: String
    var tags: [String]
    var score: Int?
}

private struct Outer: Codable, Hashable {
    var id: UUID
    var at: Date
    var colour: Colour
    var priority: Priority
    var inner: Inner
    var inners: [Inner]
    var maybeInner: Inner?
    var note: String?
    var counts: [String: Int]
    var byNumber: [Int: String]
    var optionals: [Int?]
    var matrix: [[Int]]
    var shapes: [Shape]
    var ratio: Double
    var flag: Bool
    var small: UInt8
    var wide: Int64
    var link: URL
    var bytes: Data
}

private let sample = Outer(
    id: UUID(uuidString: "6F9619FF-8B86-D011-B42D-00CF4FC964FF")!,
    at: Date(timeIntervalSince1970: 1_700_000_000.123),
    colour: .darkBlue, priority: .high,
    inner: Inner(name: "a", tags: ["x", "y"], score: 3),
    inners: [Inner(name: "b", tags: [], score: nil), Inner(name: "c", tags: ["z"], score: -1)],
    maybeInner: nil, note: "héllo ✓",
    counts: ["deleted": 4], byNumber: [7: "seven"],
    optionals: [1, nil, 3], matrix: [[1, 2], [], [3]],
    shapes: [.circle(radius: 2), .pair(1, "one"), .none],
    ratio: 0.25, flag: true, small: 200, wide: 1 << 40,
    link: URL(string: "https://example.com/a?b=c")!, bytes: Data([0, 1, 254, 255])
)

/// Encodes through nested containers and `superEncoder`, which synthesized code never
/// asks for, and decodes through their counterparts.
private struct Handwritten: Codable, Hashable {
    var base: Inner
    var values: [Int]
    var label: String

    enum CodingKeys: String, CodingKey { case values, label, base }

    init(base: Inner, values: [Int], label: String) {
        self.base = base
        self.values = values
        self.label = label
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        var values = container.nestedUnkeyedContainer(forKey: .values)
        try base.encode(to: container.superEncoder())
        var labelled = container.nestedContainer(keyedBy: CodingKeys.self, forKey: .label)
        // Written after the containers above were handed out: still lands in place.
        for value in self.values { try values.encode(value) }
        var element = values.nestedContainer(keyedBy: CodingKeys.self)
        try element.encode(label, forKey: .label)
        try labelled.encode(label, forKey: .label)
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        var values = try container.nestedUnkeyedContainer(forKey: .values)
        var decoded: [Int] = []
        while values.count! - values.currentIndex > 1 { decoded.append(try values.decode(Int.self)) }
        let element = try values.nestedContainer(keyedBy: CodingKeys.self)
        self.values = decoded
        label = try element.decode(String.self, forKey: .label)
        #expect(try container.nestedContainer(keyedBy: CodingKeys.self, forKey: .label).decode(String.self, forKey: .label) == label)
        base = try Inner(from: container.superDecoder())
    }
}

private struct Counted: Codable, Hashable { var count: Int }
private struct Measured: Codable, Hashable { var ratio: Double }
private struct Named: Codable, Hashable { var name: String }
private struct Dated: Codable, Hashable { var at: Date }
private struct Identified: Codable, Hashable { var id: UUID }
private struct MaybeNamed: Codable, Hashable { var name: String? }

private let encoder = BSONEncoder()
private let decoder = BSONDecoder()

private func path(_ error: DecodingError) -> [String] {
    let context: DecodingError.Context? = switch error {
    case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context): context
    case .keyNotFound(let key, let context): DecodingError.Context(codingPath: context.codingPath + [key], debugDescription: "")
    @unknown default: nil
    }
    return context?.codingPath.map(\.stringValue) ?? []
}

@Suite("BSON encoder and decoder")
struct BSONCoderTests {
    @Test("nested structs, optionals, arrays, dictionaries, enums, dates and UUIDs survive a round trip")
    func roundTrip() throws {
        let document = try encoder.encode(sample)
        #expect(try decoder.decode(Outer.self, from: document) == sample)
    }

    @Test("values take the shapes the JSON path stored")
    func shapes() throws {
        let document = try encoder.encode(sample)
        #expect(document.keys == ["id", "at", "colour", "priority", "inner", "inners", "note", "counts", "byNumber", "optionals",
                                  "matrix", "shapes", "ratio", "flag", "small", "wide", "link", "bytes"])
        #expect(document["id"] == "6F9619FF-8B86-D011-B42D-00CF4FC964FF")
        #expect(document["at"] == .datetime(BSONDatetime(millisecondsSinceEpoch: 1_700_000_000_123)))
        #expect(document["colour"] == "dark-blue")
        #expect(document["priority"] == .int32(9))
        #expect(document["inner"] == ["name": "a", "tags": ["x", "y"], "score": .int32(3)])
        // A nil optional leaves its key out, inside arrays' elements too.
        #expect(document["inners"] == [["name": "b", "tags": []], ["name": "c", "tags": ["z"], "score": .int32(-1)]])
        #expect(document["counts"] == ["deleted": .int32(4)])
        #expect(document["byNumber"] == ["7": "seven"])
        #expect(document["optionals"] == [.int32(1), .null, .int32(3)])
        #expect(document["matrix"] == [[.int32(1), .int32(2)], [], [.int32(3)]])
        #expect(document["shapes"] == [["circle": ["radius": .int32(2)]], ["pair": ["_0": .int32(1), "_1": "one"]], ["none": [:]]])
        #expect(document["ratio"] == .double(0.25))
        #expect(document["flag"] == true)
        #expect(document["small"] == .int32(200))
        #expect(document["wide"] == .int64(1 << 40))
        #expect(document["link"] == "https://example.com/a?b=c")
        #expect(document["bytes"] == .string(Data([0, 1, 254, 255]).base64EncodedString()))
    }

    @Test("integers are int32 when they fit, else int64, whatever their Swift type", arguments: [
        (Int64(Int32.max), BSON.int32(.max)), (Int64(Int32.max) + 1, .int64(Int64(Int32.max) + 1)),
        (Int64(Int32.min), .int32(.min)), (Int64(Int32.min) - 1, .int64(Int64(Int32.min) - 1)),
        (Int64.max, .int64(.max)), (Int64.min, .int64(.min)), (0, .int32(0)),
    ])
    func integerBoundary(value: Int64, stored: BSON) throws {
        #expect(try encoder.encodeValue(value) == stored)
        #expect(try encoder.encodeValue(Int(value)) == stored)
        #expect(try decoder.decodeValue(Int64.self, from: stored) == value)
        #expect(try decoder.decodeValue(Int.self, from: stored) == Int(value))
        if let unsigned = UInt64(exactly: value) { #expect(try encoder.encodeValue(unsigned) == stored) }
    }

    @Test("an unsigned integer beyond int64 is refused, with its path")
    func unsignedTooLarge() throws {
        struct Huge: Encodable { var value = UInt64.max }
        let error = try #require(throws: EncodingError.self) { try encoder.encode(Huge()) }
        guard case .invalidValue(_, let context) = error else { Issue.record("\(error)"); return }
        #expect(context.codingPath.map(\.stringValue) == ["value"])
    }

    @Test("nested containers and super encoders handed out early are written in place")
    func nestedAndSuper() throws {
        let value = Handwritten(base: Inner(name: "n", tags: ["t"], score: nil), values: [1, 2], label: "l")
        let document = try encoder.encode(value)
        #expect(document == ["values": [.int32(1), .int32(2), ["label": "l"]], "super": ["name": "n", "tags": ["t"]], "label": ["label": "l"]])
        #expect(try decoder.decode(Handwritten.self, from: document) == value)
    }

    @Test("a value that encodes nothing is an empty document; a top-level scalar is not a document")
    func emptyAndScalar() throws {
        struct Nothing: Codable, Hashable {}
        struct Holder: Codable, Hashable { var nothing = Nothing() }
        #expect(try encoder.encode(Holder()) == ["nothing": [:]])
        #expect(throws: EncodingError.self) { try encoder.encode("text") }
        #expect(try encoder.encodeValue("text") == "text")
    }

    @Test("an integral double is stored as a double; an int32 (the JSON path's form) reads as the same Double")
    func integralDouble() throws {
        #expect(try encoder.encode(Measured(ratio: 3)) == ["ratio": .double(3)])
        #expect(try decoder.decode(Measured.self, from: ["ratio": .int32(3)]) == Measured(ratio: 3))
        #expect(try decoder.decode(Measured.self, from: ["ratio": .int64(1 << 40)]) == Measured(ratio: 0x100_0000_0000))
    }

    @Test("integers read from int32, int64 and integral doubles")
    func lenientIntegers() throws {
        #expect(try decoder.decode(Counted.self, from: ["count": .double(3)]) == Counted(count: 3))
        #expect(try decoder.decode(Counted.self, from: ["count": .int64(5)]) == Counted(count: 5))
        #expect(try decoder.decodeValue(UInt8.self, from: .int32(255)) == 255)
        let fraction = try #require(throws: DecodingError.self) { try decoder.decode(Counted.self, from: ["count": .double(2.5)]) }
        guard case .dataCorrupted = fraction else { Issue.record("\(fraction)"); return }
        #expect(path(fraction) == ["count"])
        #expect(throws: DecodingError.self) { try decoder.decodeValue(Int8.self, from: .int32(300)) }
    }

    @Test("strings read from symbols, code, ObjectIds, binaries and (with a formatter) decimal128s")
    func lenientStrings() throws {
        let uuid = UUID(uuidString: "6F9619FF-8B86-D011-B42D-00CF4FC964FF")!
        #expect(try decoder.decode(Named.self, from: ["name": .symbol("s")]).name == "s")
        #expect(try decoder.decode(Named.self, from: ["name": .javascript("f()")]).name == "f()")
        #expect(try decoder.decode(Named.self, from: ["name": .objectId(BSONObjectId("5f1a2b3c4d5e6f7a8b9c0d1e")!)]).name == "5f1a2b3c4d5e6f7a8b9c0d1e")
        #expect(try decoder.decode(Named.self, from: ["name": .binary(BSONBinary(uuid: uuid))]).name == uuid.uuidString)
        #expect(try decoder.decode(Named.self, from: ["name": .binary(BSONBinary(subtype: 0, data: [0, 0xAB]))]).name == "00ab")
        let decimal: BSONDocument = ["name": .decimal128(BSONDecimal128(low: 15, high: 0x3040_0000_0000_0000))]
        #expect(throws: DecodingError.self) { try decoder.decode(Named.self, from: decimal) }
        var formatting = BSONDecoder()
        formatting.decimal128Text = { _ in "15" }
        #expect(try formatting.decode(Named.self, from: decimal).name == "15")
    }

    @Test("UUIDs read from strings and UUID binaries; dates from datetimes")
    func lenientUUIDsAndDates() throws {
        let uuid = UUID()
        #expect(try decoder.decode(Identified.self, from: ["id": .string(uuid.uuidString)]).id == uuid)
        #expect(try decoder.decode(Identified.self, from: ["id": .binary(BSONBinary(uuid: uuid))]).id == uuid)
        let at = try decoder.decode(Dated.self, from: ["at": .datetime(BSONDatetime(millisecondsSinceEpoch: -1))])
        #expect(at.at == Date(timeIntervalSince1970: -0.001))
        #expect(throws: DecodingError.self) { try decoder.decode(Dated.self, from: ["at": "2024-01-01"]) }
    }

    @Test("null, undefined and the types the JSON path read as null decode as nil", arguments: [
        BSON.null, .undefined, .minKey, .maxKey, .regex(BSONRegularExpression(pattern: "a")), .timestamp(BSONTimestamp(timestamp: 1, increment: 1)),
    ])
    func nilLike(value: BSON) throws {
        #expect(try decoder.decode(MaybeNamed.self, from: ["name": value]) == MaybeNamed(name: nil))
        #expect(try decoder.decodeValue([Int?].self, from: [value, 1]) == [nil, 1])
    }

    @Test("a missing key is keyNotFound, with the path to it")
    func missingKey() throws {
        var document = try encoder.encode(sample)
        document["inners"] = [["name": "b", "tags": []], ["tags": []]]
        let error = try #require(throws: DecodingError.self) { try decoder.decode(Outer.self, from: document) }
        guard case .keyNotFound(let key, _) = error else { Issue.record("\(error)"); return }
        #expect(key.stringValue == "name")
        #expect(path(error) == ["inners", "Index 1", "name"])
    }

    @Test("a value of the wrong type is typeMismatch, a null where a value is needed valueNotFound, with their paths")
    func mismatch() throws {
        var document = try encoder.encode(sample)
        document["inner"] = ["name": "a", "tags": ["x", .int32(1)]]
        let error = try #require(throws: DecodingError.self) { try decoder.decode(Outer.self, from: document) }
        guard case .typeMismatch(let type, _) = error else { Issue.record("\(error)"); return }
        #expect(type is String.Type)
        #expect(path(error) == ["inner", "tags", "Index 1"])

        document = try encoder.encode(sample)
        document["colour"] = .null
        let null = try #require(throws: DecodingError.self) { try decoder.decode(Outer.self, from: document) }
        guard case .valueNotFound = null else { Issue.record("\(null)"); return }
        #expect(path(null) == ["colour"])

        let notDocument = try #require(throws: DecodingError.self) { try decoder.decodeValue(Outer.self, from: "a" as BSON) }
        guard case .typeMismatch = notDocument else { Issue.record("\(notDocument)"); return }
        #expect(path(notDocument) == [])
    }

    @Test("an unknown enum raw value is dataCorrupted at its key")
    func unknownRawValue() throws {
        var document = try encoder.encode(sample)
        document["colour"] = "purple"
        let error = try #require(throws: DecodingError.self) { try decoder.decode(Outer.self, from: document) }
        guard case .dataCorrupted = error else { Issue.record("\(error)"); return }
        #expect(path(error) == ["colour"])
    }
}
