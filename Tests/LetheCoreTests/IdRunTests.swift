import BSON
import Foundation
import LetheCore
import Testing

/// A batch of `_id`s becomes ranges a write can select: one per type bracket, since a
/// range query never crosses one on MongoDB.
@Suite("Id runs")
struct IdRunTests {
    static let first = BSONObjectId("65a000000000000000000001")!
    static let last = BSONObjectId("65a000000000000000000009")!

    @Test("one range per stretch of one bracket: numbers of every width together, then strings, then ObjectIds")
    func bracketsSplit() {
        let runs = IdRun.split([.int32(1), .int64(2), .double(2.5), .string("a"), .string("k"), .objectId(Self.first), .objectId(Self.last)])
        #expect(runs == [
            .range(first: .int32(1), last: .double(2.5)),
            .range(first: .string("a"), last: .string("k")),
            .range(first: .objectId(Self.first), last: .objectId(Self.last)),
        ])
        #expect(runs[1].condition() == ["_id": ["$gte": "a", "$lte": "k"]])
        #expect(runs[1].condition(on: "last_seen") == ["last_seen": ["$gte": "a", "$lte": "k"]])
    }

    @Test("a run of one id is an equality; types without a shared order go as lists, one per type")
    func singlesAndLists() {
        let binary = BSON.binary(BSONBinary(uuid: UUID(uuidString: "00000000-0000-0000-0000-000000000001")!))
        let runs = IdRun.split([.string("only"), binary, .double(.nan), .document(["a": 1]), .bool(true)])
        #expect(runs.first == .range(first: .string("only"), last: .string("only")))
        #expect(runs.first?.condition() == ["_id": "only"])
        let lists = runs.dropFirst().compactMap { run -> [BSON]? in if case .list(let ids) = run { ids } else { nil } }
        #expect(lists.count == 4, "the document, the binary, the bool and NaN each in a list of their type")
        #expect(lists.flatMap { $0 }.count == 4)
    }

    @Test("a bracket seen again after another starts a new range: nothing between two types is taken")
    func bracketAgain() {
        let runs = IdRun.split([.int32(1), .string("b"), .int32(7)])
        #expect(runs == [.range(first: .int32(1), last: .int32(1)), .range(first: .string("b"), last: .string("b")),
                         .range(first: .int32(7), last: .int32(7))])
    }

    @Test("the values a query's equality sees: array elements and fields of arrays of documents, never the array or null")
    func equalityValues() {
        let document: BSONDocument = [
            "owner": "a", "members": ["b", "c", .null], "authors": [["id": "d"], ["id": ["e", "f"]], "loose"],
            "nested": ["inner": ["id": "g"]], "none": .null,
        ]
        #expect(document.equalityValues(atPath: "owner") == ["a"])
        #expect(document.equalityValues(atPath: "members") == ["b", "c"])
        #expect(document.equalityValues(atPath: "authors.id") == ["d", "e", "f"])
        #expect(document.equalityValues(atPath: "nested.inner.id") == ["g"])
        #expect(document.equalityValues(atPath: "none").isEmpty)
        #expect(document.equalityValues(atPath: "missing.id").isEmpty)
    }
}
