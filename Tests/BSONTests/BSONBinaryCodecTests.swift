import BSON
import Foundation
import Testing

/// A document holding one value of every supported type, nested and in arrays.
let everyType: BSONDocument = [
    "double": .double(3.25),
    "negativeZero": .double(-0.0),
    "string": "héllo, wörld ✓",
    "empty": "",
    "document": ["a": 1, "b": ["c": .null]],
    "array": [1, "two", .bool(false), ["nested": true]],
    "binary": .binary(BSONBinary(subtype: 0, data: [0, 1, 2, 255])),
    "uuid": .binary(BSONBinary(uuid: UUID(uuidString: "6F9619FF-8B86-D011-B42D-00CF4FC964FF")!)),
    "objectId": .objectId(BSONObjectId("5f1a2b3c4d5e6f7a8b9c0d1e")!),
    "true": true,
    "false": false,
    "date": .datetime(BSONDatetime(millisecondsSinceEpoch: 1_700_000_000_123)),
    "dateBeforeEpoch": .datetime(BSONDatetime(millisecondsSinceEpoch: -86_400_000)),
    "null": .null,
    "regex": .regex(BSONRegularExpression(pattern: "^a.*z$", options: "mi")),
    "int32": .int32(-42),
    "int32Max": .int32(.max),
    "int64": .int64(1 << 40),
    "int64Min": .int64(.min),
    "timestamp": .timestamp(BSONTimestamp(timestamp: 1_700_000_000, increment: 7)),
    "decimal128": .decimal128(BSONDecimal128(low: 15, high: 0x3040_0000_0000_0000)),
    "minKey": .minKey,
    "maxKey": .maxKey,
]

@Suite("BSON binary codec")
struct BSONBinaryCodecTests {
    @Test("every type survives encode then decode, in order")
    func roundTripEveryType() throws {
        let decoded = try BSONDocument(bsonBytes: everyType.bsonBytes)
        #expect(decoded == everyType)
        #expect(decoded.keys == everyType.keys)
    }

    @Test("regex options are stored sorted, as the BSON spec requires")
    func regexOptionsSorted() {
        #expect(BSONRegularExpression(pattern: "x", options: "xmi").options == "imx")
    }

    @Test("a known encoding matches the specification byte for byte")
    func knownBytes() {
        // {"hello": "world"} from bsonspec.org.
        let expected: [UInt8] = [0x16, 0, 0, 0, 0x02, 0x68, 0x65, 0x6C, 0x6C, 0x6F, 0, 0x06, 0, 0, 0,
                                 0x77, 0x6F, 0x72, 0x6C, 0x64, 0, 0]
        #expect((["hello": "world"] as BSONDocument).bsonBytes == expected)
    }

    @Test("truncated input is refused with the offset")
    func truncated() {
        let bytes = Array(everyType.bsonBytes.dropLast(3))
        #expect(throws: BSONDecodingError.self) { try BSONDocument(bsonBytes: bytes) }
    }

    @Test("a length prefix larger than the buffer is refused")
    func lengthTooLarge() {
        var bytes = (["a": 1] as BSONDocument).bsonBytes
        bytes[0] = 200
        #expect(throws: BSONDecodingError.self) { try BSONDocument(bsonBytes: bytes) }
    }

    @Test("an unknown type byte is refused, naming the type")
    func unknownType() throws {
        var bytes = (["a": 1] as BSONDocument).bsonBytes
        bytes[4] = 0x42
        let error = try #require(throws: BSONDecodingError.self) { try BSONDocument(bsonBytes: bytes) }
        #expect(error.description.contains("unknown BSON type 0x42"))
    }

    @Test("nesting deeper than the limit is refused instead of recursing")
    func deepNesting() {
        var value: BSON = 1
        for _ in 0..<(BSONDocument.maximumNestingDepth + 5) { value = ["x": value] }
        let bytes = BSONDocument([("root", value)]).bsonBytes
        #expect(throws: BSONDecodingError.self) { try BSONDocument(bsonBytes: bytes) }
    }

    @Test("invalid UTF-8 in a string is refused")
    func invalidUTF8() {
        var bytes = (["a": "xy"] as BSONDocument).bsonBytes
        let index = bytes.firstIndex(of: UInt8(ascii: "x"))!
        bytes[index] = 0xFF
        #expect(throws: BSONDecodingError.self) { try BSONDocument(bsonBytes: bytes) }
    }

    @Test("document subscript keeps order, replaces in place, removes with nil")
    func subscriptSemantics() {
        var document: BSONDocument = ["a": 1, "b": 2, "c": 3]
        document["b"] = "two"
        document["a"] = nil
        document["d"] = 4
        #expect(document.keys == ["b", "c", "d"])
        #expect(document["b"] == "two")
    }

    @Test("dotted paths descend into documents and array indexes")
    func dottedPaths() {
        let document: BSONDocument = ["author": ["id": "u1", "tags": ["x", "y"]]]
        #expect(document.value(atPath: "author.id") == "u1")
        #expect(document.value(atPath: "author.tags.1") == "y")
        #expect(document.value(atPath: "author.missing") == nil)
    }

    @Test("ObjectId parses hex in either case and rejects anything else")
    func objectIdHex() {
        #expect(BSONObjectId("5F1A2B3C4D5E6F7A8B9C0D1E")?.hex == "5f1a2b3c4d5e6f7a8b9c0d1e")
        #expect(BSONObjectId("5f1a") == nil)
        #expect(BSONObjectId("zz1a2b3c4d5e6f7a8b9c0d1e") == nil)
        #expect(BSONObjectId() != BSONObjectId())
    }

    @Test("bytes as lowercase hex, two digits each; random ids have the asked length")
    func lowercaseHex() {
        #expect([0x00, 0x0F, 0xA0, 0xFF].lowercaseHex == "000fa0ff")
        #expect([UInt8]().lowercaseHex == "")
        let random = randomHex(bytes: 6)
        #expect(random.count == 12 && random.allSatisfy { "0123456789abcdef".contains($0) })
    }

    @Test("arrays longer than the precomputed keys, and keys holding NUL, encode as the spec says")
    func longArraysAndNulKeys() throws {
        let long = BSONDocument([("values", .array((0..<1_205).map { .int32(Int32($0)) }))])
        let decoded = try BSONDocument(bsonBytes: long.bsonBytes)
        #expect(decoded == long)
        #expect(decoded.value(atPath: "values.1204") == .int32(1_204))
        let nul = BSONDocument([("a\u{0}b", .bool(true))])
        #expect(try BSONDocument(bsonBytes: nul.bsonBytes).keys == ["ab"])
    }

    @Test("UUID binaries convert both ways")
    func uuid() {
        let uuid = UUID()
        #expect(BSONBinary(uuid: uuid).uuid == uuid)
        #expect(BSONBinary(subtype: 0, data: Array(repeating: 0, count: 16)).uuid == nil)
    }
}
