import BSON
import Foundation
@testable import LetheCore
import Testing

/// The orphan sweep's pure parts: which values are ids, one user per id text, the limits.
@Suite("Orphan sweep: ids and limits")
struct OrphanIdTests {
    static let oid = BSONObjectId("6560f1c2a1b2c3d4e5f60001")!
    static let uuid = UUID(uuidString: "123E4567-E89B-12D3-A456-426614174000")!

    @Test("ids are read as the policy's idType says; Lethe's own tokens and hashes are not ids")
    func typed() {
        let token = "anon_" + String(repeating: "ab", count: 12)
        let hash = "h1:" + String(repeating: "0f", count: 16)
        #expect(OrphanSweeper.isID("u1", of: .string) && OrphanSweeper.isID("u1", of: .any))
        #expect(!OrphanSweeper.isID("u1", of: .objectId) && !OrphanSweeper.isID(.objectId(Self.oid), of: .string))
        #expect(OrphanSweeper.isID(.objectId(Self.oid), of: .objectId))
        #expect(OrphanSweeper.isID(.binary(BSONBinary(uuid: Self.uuid)), of: .uuid))
        #expect(!OrphanSweeper.isID(.binary(BSONBinary(subtype: 0, data: Array(repeating: 1, count: 16))), of: .uuid))
        #expect(!OrphanSweeper.isID(.int32(7), of: .any) && !OrphanSweeper.isID(.null, of: .any))
        #expect(!OrphanSweeper.isID(.string(token), of: .string) && !OrphanSweeper.isID(.string(hash), of: .any))
        #expect(OrphanSweeper.isID("anon_not-a-token", of: .string), "only the exact form is Lethe's")
    }

    @Test("an id's forms: an ObjectId and its hex string, a UUID and its text, are one user")
    func forms() {
        #expect(OrphanSweeper.text(of: .objectId(Self.oid)) == "6560f1c2a1b2c3d4e5f60001")
        #expect(OrphanSweeper.text(of: .binary(BSONBinary(uuid: Self.uuid))) == "123e4567-e89b-12d3-a456-426614174000")
        #expect(OrphanSweeper.forms(of: .objectId(Self.oid)).contains(.string("6560f1c2a1b2c3d4e5f60001")))
        #expect(OrphanSweeper.forms(of: "6560f1c2a1b2c3d4e5f60001").contains(.objectId(Self.oid)))
        #expect(OrphanSweeper.forms(of: "123e4567-e89b-12d3-a456-426614174000").contains(.binary(BSONBinary(uuid: Self.uuid))))
        #expect(OrphanSweeper.forms(of: "u1") == ["u1"])
    }

    @Test("the limits: more than maxOrphans, or more than maxShare of the linked ids")
    func limits() {
        let options = OrphanSweeper.Options()
        #expect(OrphanSweeper.limitCrossed(orphans: 100, linked: 1_000, options: options) == nil)
        #expect(OrphanSweeper.limitCrossed(orphans: 101, linked: 100_000, options: options) == "101 orphan id(s), more than the limit of 100")
        #expect(OrphanSweeper.limitCrossed(orphans: 11, linked: 100, options: options)
                == "11 orphan id(s) are 11 % of the 100 linked ids, more than the limit of 10 %")
        #expect(OrphanSweeper.limitCrossed(orphans: 3, linked: 200, options: .init(maxShare: 0.005)) == "3 orphan id(s) are 2 % of the 200 linked ids, more than the limit of 0.5 %")
        #expect(OrphanSweeper.limitCrossed(orphans: 0, linked: 0, options: .init(maxOrphans: 0, maxShare: 0)) == nil)
    }
}
