import BSON
@testable import LetheService
import Testing

/// The check that lets the orphan sweep trust a `$group`'s keys (no server needed).
@Suite("Grouped value check")
struct GroupedValueCheckTests {
    static let oid = BSON.objectId(BSONObjectId("65b000000000000000000001")!)

    @Test("a key of the type its documents hold is faithful: as MongoDB returns them")
    func faithful() {
        #expect(GroupedValueCheck.isFaithful("u1", types: ["string"]))
        #expect(GroupedValueCheck.isFaithful(Self.oid, types: ["objectId"]))
        #expect(GroupedValueCheck.isFaithful(["a", "b"], types: ["array"]))
        #expect(GroupedValueCheck.isFaithful(.null, types: ["null", "missing"]))
        #expect(GroupedValueCheck.isFaithful(.int32(5), types: ["int", "double", "long"]))
    }

    @Test("a string key for documents holding ObjectIds, arrays or documents (the test server's $group) is not; nor a key without types")
    func unfaithful() {
        #expect(!GroupedValueCheck.isFaithful(#"{"__neosqlite_objectid__":true,"id":"65b000000000000000000001"}"#, types: ["objectId"]))
        #expect(!GroupedValueCheck.isFaithful(#"["a","b"]"#, types: ["array"]))
        #expect(!GroupedValueCheck.isFaithful(#"{"k":1}"#, types: ["object"]))
        #expect(!GroupedValueCheck.isFaithful("u1", types: ["string", "objectId"]))
        #expect(!GroupedValueCheck.isFaithful(.null, types: ["null", "unknown"]))
        #expect(!GroupedValueCheck.isFaithful("u1", types: []))
        #expect(!GroupedValueCheck.isFaithful(Self.oid, types: ["string"]))
    }

    @Test("the values a query's equality sees: an array's elements one level down, no null")
    func queryValues() {
        #expect(GroupedValueCheck.queryValues(of: "u1") == ["u1"])
        #expect(GroupedValueCheck.queryValues(of: ["a", Self.oid, .null, ["nested"]]) == ["a", Self.oid])
        #expect(GroupedValueCheck.queryValues(of: .null).isEmpty)
    }
}
