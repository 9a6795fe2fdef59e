import BSON
import LetheCore
import LetheService
import LetheTestSupport
import MongoKit
import Testing

/// Ids are bytes to the database, whatever collation a collection was created with.
@Suite("Ids compared as bytes under a collection's collation (integration)", .enabled(if: TestServer.isConfigured, TestServer.skipReason))
struct DataStoreCollationIntegrationTests {
    static let yaml = """
        version: 1
        name: notes
        database: DATABASE
        subject: { idType: string, includeIdentities: false }
        rules:
          - { collection: notes, match: owner, action: delete }
          - { collection: shared, match: editors, action: pull }
        """

    @Test("case-insensitive default collation: erasing \"abc\" leaves \"ABC\" and \"Abc\"; counts, groups and verification see only \"abc\"")
    func caseInsensitiveCollection() async throws {
        try await TodoFixture.make(yaml: Self.yaml).use { fixture in
            let caseInsensitive: BSONDocument = ["locale": "en", "strength": 2]
            for name in ["notes", "shared"] {
                _ = try await fixture.database.runCommand(["create": .string(name), "collation": .document(caseInsensitive)])
            }
            let (notes, shared) = (fixture.database.collection("notes"), fixture.database.collection("shared"))
            try await notes.insertMany([["_id": 1, "owner": "abc"], ["_id": 2, "owner": "ABC"], ["_id": 3, "owner": "Abc"]])
            try await shared.insertMany([["_id": 1, "editors": ["abc", "ABC"]], ["_id": 2, "editors": ["Abc"]]])
            // The premise, on MongoDB: an operation that states no collation matches all three.
            let matchedWithoutCollation = try await notes.find(["owner": "abc"]).toArray().count
            KnownDeviation.defaultCollationIgnored.expectOnMongoDB { #expect(matchedWithoutCollation == 3) }

            let data = fixture.runtime.data
            let namespace = Namespace(database: fixture.database.name, collection: "notes")
            #expect(try await data.count(namespace, filter: ["owner": ["$in": ["abc"]]]) == 1)
            #expect(try await data.ids(namespace, filter: ["owner": "abc"], limit: 10) == [1])
            #expect(try await data.idsHolding(namespace, values: ["abc"], atAnyOf: ["owner"], filter: [:], limit: 10) == [1])
            let groups = LockedList<ValueGroup>()
            try await data.valueGroups(namespace, filter: [:], path: "owner", batchSize: 10) { groups.append(contentsOf: $0) }
            #expect(Set(groups.values.flatMap(\.values)) == ["abc", "ABC", "Abc"], "three users, not one")

            let done = try await fixture.erase(ErasureSubject(userId: "abc"))
            #expect(done.state == .done)
            #expect(try await notes.find([:]).toArray().compactMap { $0["owner"]?.stringValue }.sorted() == ["ABC", "Abc"])
            let editors = try await shared.find([:]).toArray().map { $0["editors"]?.arrayValue?.compactMap(\.stringValue) ?? [] }
            #expect(editors == [["ABC"], ["Abc"]])
        }
    }
}
