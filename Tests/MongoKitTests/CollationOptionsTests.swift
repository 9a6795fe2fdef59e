import BSON
@testable import MongoKit
import Testing

/// What a collection handle states about collation (no server needed).
@Suite("Collation stated by a collection handle")
struct CollationOptionsTests {
    @Test("comparingBytes states {locale: simple} on every operation's options; a plain handle states none; an explicit one wins")
    func stated() async throws {
        let pool = try MongoClientPool(uri: "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300")
        let plain = pool.database("app").collection("notes")
        let bytes = plain.comparingBytes()
        #expect(plain.stated(["limit": 1]) == ["limit": 1])
        #expect(bytes.stated(["limit": 1]) == ["limit": 1, "collation": ["locale": "simple"]])
        #expect(bytes.stated([:]) == ["collation": ["locale": "simple"]])
        #expect(bytes.stated(["collation": ["locale": "fr"]]) == ["collation": ["locale": "fr"]])
        #expect(bytes.namespace == plain.namespace)
        await pool.shutdown()
    }
}
