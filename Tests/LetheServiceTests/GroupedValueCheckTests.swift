import BSON
import Foundation
@testable import LetheService
import Testing

/// The check that lets the orphan sweep trust a `$group`'s keys (no server needed).
@Suite("Grouped value check")
struct GroupedValueCheckTests {
    static let oid = BSON.objectId(BSONObjectId("65b000000000000000000001")!)

    @Test("a key that is the one value its group holds is faithful: as MongoDB returns them")
    func faithful() {
        #expect(GroupedValueCheck.isFaithful("u1", values: ["u1"]))
        #expect(GroupedValueCheck.isFaithful(Self.oid, values: [Self.oid]))
        #expect(GroupedValueCheck.isFaithful(["a", "b"], values: [["a", "b"]]))
        #expect(GroupedValueCheck.isFaithful(.null, values: [.null]))
        #expect(GroupedValueCheck.isFaithful(.null, values: []), "a missing field: $addToSet leaves it out")
        #expect(GroupedValueCheck.isFaithful(.int32(5), values: [.int32(5), .double(5), .int64(5)]), "equal numbers share a group")
    }

    @Test("a string key for documents holding ObjectIds, arrays, documents or UUIDs (the test server's $group) is not; nor a group holding two values")
    func unfaithful() {
        let text = #"{"__neosqlite_objectid__":true,"id":"65b000000000000000000001"}"#
        #expect(!GroupedValueCheck.isFaithful(.string(text), values: [Self.oid]))
        #expect(!GroupedValueCheck.isFaithful(.string(text), values: [.string(text), Self.oid]), "a planted string beside the ObjectId")
        #expect(!GroupedValueCheck.isFaithful(#"["a","b"]"#, values: [["a", "b"]]))
        #expect(!GroupedValueCheck.isFaithful(#"{"k":1}"#, values: [["k": 1]]))
        let uuid = BSONBinary(uuid: UUID(uuidString: "6F9619FF-8B86-D011-B42D-00C04FC964FF")!)
        #expect(!GroupedValueCheck.isFaithful(.binary(uuid), values: [.binary(BSONBinary(subtype: 0, data: uuid.data))]), "the subtype is part of the value")
        #expect(!GroupedValueCheck.isFaithful("u1", values: ["u1", "U1"]))
        #expect(!GroupedValueCheck.isFaithful("u1", values: []))
        #expect(!GroupedValueCheck.isFaithful(.null, values: [.null, "u1"]))
        #expect(!GroupedValueCheck.isFaithful(.int32(5), values: ["5"]))
        #expect(!GroupedValueCheck.isFaithful(Self.oid, values: [.string(Self.oid.objectIdValue!.hex)]))
        #expect(!GroupedValueCheck.isFaithful("caf\u{E9}", values: ["cafe\u{301}"]), "strings compare as bytes")
    }

    @Test("the values a query's equality sees: an array's elements one level down, no null")
    func queryValues() {
        #expect(GroupedValueCheck.queryValues(of: "u1") == ["u1"])
        #expect(GroupedValueCheck.queryValues(of: ["a", Self.oid, .null, ["nested"]]) == ["a", Self.oid])
        #expect(GroupedValueCheck.queryValues(of: .null).isEmpty)
        #expect(GroupedValueCheck.queryValues(of: ["a", "a", "b"]) == ["a", "b"], "each once")
    }
}
