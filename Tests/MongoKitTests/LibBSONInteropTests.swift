import BSON
import Foundation
import MongoKit
import Testing

let everyType: BSONDocument = [
    "double": .double(3.25),
    "string": "héllo ✓",
    "document": ["a": 1, "b": ["c": .null]],
    "array": [1, "two", .bool(false), ["nested": true]],
    "binary": .binary(BSONBinary(subtype: 0, data: [0, 1, 2, 255])),
    "uuid": .binary(BSONBinary(uuid: UUID(uuidString: "6F9619FF-8B86-D011-B42D-00CF4FC964FF")!)),
    "objectId": .objectId(BSONObjectId("5f1a2b3c4d5e6f7a8b9c0d1e")!),
    "bool": true,
    "date": .datetime(BSONDatetime(millisecondsSinceEpoch: 1_700_000_000_123)),
    "dateBeforeEpoch": .datetime(BSONDatetime(millisecondsSinceEpoch: -86_400_000)),
    "null": .null,
    "regex": .regex(BSONRegularExpression(pattern: "^a.*z$", options: "im")),
    "int32": .int32(-42),
    "int64": .int64(1 << 40),
    "int64Small": .int64(7),
    "timestamp": .timestamp(BSONTimestamp(timestamp: 1_700_000_000, increment: 7)),
    "decimal128": .decimal128(BSONDecimal128(text: "1234.5678")!),
    "minKey": .minKey,
    "maxKey": .maxKey,
]

@Suite("libbson interop and Extended JSON")
struct LibBSONInteropTests {
    @Test("libbson validates and reads back what the Swift encoder writes")
    func throughLibbson() throws {
        #expect(try LibBSON.roundTrip(everyType) == everyType)
    }

    @Test("canonical Extended JSON keeps every type", arguments: [ExtendedJSONMode.canonical, .relaxed])
    func extendedJSONRoundTrip(mode: ExtendedJSONMode) throws {
        let json = everyType.extendedJSON(mode)
        let parsed = try BSONDocument(extendedJSON: json)
        if mode == .canonical {
            #expect(parsed == everyType)
        } else {
            // Relaxed JSON writes int64 values that fit in int32 as plain numbers,
            // which read back as int32: that is the format's documented loss.
            var expected = everyType
            expected["int64Small"] = .int32(7)
            #expect(parsed == expected)
        }
    }

    @Test("canonical form wraps numbers and dates")
    func canonicalShape() {
        let json = (["n": .int32(1), "l": .int64(2), "d": .datetime(BSONDatetime(millisecondsSinceEpoch: 0))] as BSONDocument)
            .extendedJSON(.canonical)
        #expect(json.contains(#""$numberInt" : "1""#))
        #expect(json.contains(#""$numberLong" : "2""#))
        #expect(json.contains(#""$date" : { "$numberLong" : "0" }"#))
    }

    @Test("relaxed form writes ISO dates and native numbers")
    func relaxedShape() {
        let json = (["n": .int32(1), "d": .datetime(BSONDatetime(millisecondsSinceEpoch: 0))] as BSONDocument)
            .extendedJSON(.relaxed)
        #expect(json.contains(#""n" : 1"#))
        #expect(json.contains("1970-01-01T00:00:00Z"))
    }

    @Test("invalid JSON is an error that does not quote the input")
    func invalidJSON() throws {
        let error = try #require(throws: MongoError.self) { try BSONDocument(extendedJSON: #"{"email": "alice@example.com""#) }
        #expect(error.code == .invalidArgument)
        #expect(!error.description.contains("alice@example.com"))
    }

    @Test("decimal128 text round-trips exactly", arguments: ["0", "-0", "1.5", "1E+10", "Infinity", "NaN", "-1234567890.0987654321"])
    func decimal128(text: String) throws {
        let value = try #require(BSONDecimal128(text: text))
        #expect(BSONDecimal128(text: value.text) == value)
    }

    @Test("decimal128 refuses text that is not a number")
    func decimal128Invalid() {
        #expect(BSONDecimal128(text: "twelve") == nil)
    }
}
