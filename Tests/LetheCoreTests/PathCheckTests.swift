import BSON
import Foundation
import LetheCore
import LetheCoreTestSupport
import Testing

/// `validate --check-db`'s path shapes: what a sample holds at each match path, and the
/// paths that cannot work (issue 17's blog cases).
@Suite("validate --check-db: match path shapes")
struct PathCheckTests {
    static let blog = """
        version: 1
        name: blog
        database: blog
        subject: { idType: objectId }
        lookups:
          posts: { collection: posts, match: authorId, field: _id }
        rules:
          - { collection: threads, match: participants.userId, action: pull }
          - collection: posts
            match: replies.user._id
            action: anonymize
            set: { replies.user.name: Deleted user }
          - { collection: comments, match: postId.authorId, action: delete }
          - { collection: notes, match: owner, action: delete }
          - { collection: likes, match: userid, action: delete }
          - { collection: tags, match: by, action: delete }
          - { collection: comments, match: postId, using: posts, action: delete }
          - { collection: photos, match: tagged, action: delete }
        """

    static func seededStore() async -> InMemoryDataStore {
        let store = InMemoryDataStore()
        let ada = BSONObjectId(), bob = BSONObjectId(), post = BSONObjectId()
        func ns(_ name: String) -> Namespace { Namespace(database: "blog", collection: name) }
        await store.insert([
            ["_id": .objectId(BSONObjectId()), "participants": [["userId": .objectId(ada), "role": "owner"], ["userId": .objectId(bob)]]],
        ], into: ns("threads"))
        await store.insert([
            ["_id": .objectId(post), "authorId": .objectId(ada),
             "replies": [["user": ["_id": .objectId(bob), "name": "Bob"], "text": "hi"]]],
        ], into: ns("posts"))
        await store.insert([["_id": .objectId(BSONObjectId()), "postId": .objectId(post)], ["_id": .objectId(BSONObjectId()), "postId": .objectId(post)]],
                           into: ns("comments"))
        await store.insert([["_id": .objectId(BSONObjectId()), "owner": ["id": .objectId(ada), "name": "Ada"]]], into: ns("notes"))
        await store.insert([["_id": .objectId(BSONObjectId()), "userId": .objectId(ada)]], into: ns("likes"))
        await store.insert([["_id": .objectId(BSONObjectId()), "by": .string(ada.hex)]], into: ns("tags"))
        await store.insert([["_id": .objectId(BSONObjectId()), "tagged": [.objectId(ada), .objectId(bob)]]], into: ns("photos"))
        return store
    }

    static func findings() async throws -> [PathFinding] {
        let policy = try #require(PolicyTestSupport.load(blog).policies.first)
        let store = await seededStore()
        return try await PolicyPathCheck(data: store, sampler: store).run([policy])
    }

    static func finding(_ findings: [PathFinding], _ path: String, owner: String? = nil) throws -> PathFinding {
        try #require(findings.first { $0.path == path && (owner == nil || $0.owner == owner) })
    }

    @Test("paths through arrays of documents are shown as array elements, and pass")
    func arrayElements() async throws {
        let findings = try await Self.findings()
        let participants = try Self.finding(findings, "participants.userId")
        #expect(participants.level == .ok)
        #expect(participants.message.contains("elements of arrays of documents in 1"))
        #expect(participants.message.contains("objectId 2"))
        #expect(participants.message.contains("a match selects array elements"))
        #expect(try Self.finding(findings, "replies.user._id").level == .ok)
        let photos = try Self.finding(findings, "tagged")
        #expect(photos.level == .ok)
        #expect(photos.message.contains("arrays of values in 1"))
    }

    @Test("a cascade written as a path is an error that points to lookups, at the rule's line")
    func cascadeAsPath() async throws {
        let findings = try await Self.findings()
        let cascade = try Self.finding(findings, "postId.authorId")
        #expect(cascade.level == .error)
        #expect(cascade.message.contains("'postId' holds objectId values (in 2 of 2 sampled), not documents"))
        #expect(cascade.message.contains("lookup"))
        #expect(cascade.location.line == 13)
        #expect(cascade.description.hasPrefix("p.yaml:13:"))
    }

    @Test("a misspelt path is an error with did-you-mean; a path ending at sub-documents is an error naming their fields")
    func misspeltAndSubDocuments() async throws {
        let findings = try await Self.findings()
        let misspelt = try Self.finding(findings, "userid")
        #expect(misspelt.level == .error)
        #expect(misspelt.message.contains("Did you mean 'userId'?"))
        let owner = try Self.finding(findings, "owner")
        #expect(owner.level == .error)
        #expect(owner.message.contains("owner.id"))
        #expect(owner.message.contains("owner.name"))
    }

    @Test("values of another type than the user's ids are a warning; lookup paths are checked too, without a type")
    func typesAndLookups() async throws {
        let findings = try await Self.findings()
        let strings = try Self.finding(findings, "by")
        #expect(strings.level == .warning)
        #expect(strings.message.contains("string 1"))
        #expect(strings.message.contains("objectId"))
        #expect(try Self.finding(findings, "authorId", owner: "lookups.posts match").level == .ok)
        #expect(try Self.finding(findings, "_id", owner: "lookups.posts field").level == .ok)
        // matched with lookup values (ObjectIds of posts): no type expectation, so no warning
        #expect(try Self.finding(findings, "postId", owner: "rules[6] match").level == .ok)
    }

    @Test("a path outside the sample but present in the collection is a warning, not an error; findings carry no values")
    func outsideSample() async throws {
        let policy = try #require(PolicyTestSupport.load("""
            version: 1
            name: t
            database: db
            rules:
              - { collection: c, match: rare, action: delete }
            """).policies.first)
        let store = InMemoryDataStore()
        let namespace = Namespace(database: "db", collection: "c")
        await store.insert((0..<5).map { ["_id": .int32(Int32($0)), "common": "ada@example.com"] }, into: namespace)
        await store.insert([["_id": 99, "rare": "ada@example.com"]], into: namespace)
        let findings = try await PolicyPathCheck(data: store, sampler: store, sampleSize: 5).run([policy])
        #expect(findings.map(\.level) == [.warning])
        let all = try await PolicyPathCheck(data: store, sampler: store, sampleSize: 6).run([policy])
        #expect(all.map(\.level) == [.ok])
        #expect(!(findings + all).contains { $0.description.contains("ada@") })
    }

    @Test("dates compared with a cut-off: text or numbers there are a warning (never due), a misspelt date field an error, dates pass")
    func datesComparedWithCutOff() async throws {
        let policy = try #require(PolicyTestSupport.load("""
            version: 1
            name: shop
            database: shop
            rules:
              - collection: orders
                match: customer_id
                action: retain
                reason: Commercial records
                until: { field: created_at, after: 10y }
                then: { action: delete }
            retention:
              - { collection: sessions, field: last_seen, olderThan: 180d, action: delete }
              - { collection: events, field: at, olderThan: 90d, action: delete }
              - { collection: logs, field: created, olderThan: 30d, action: delete }
            """).policies.first)
        let store = InMemoryDataStore()
        func ns(_ name: String) -> Namespace { Namespace(database: "shop", collection: name) }
        let now = BSON.datetime(BSONDatetime(Date()))
        await store.insert((0..<3).map { ["_id": .int32(Int32($0)), "customer_id": .string("c-\($0)"), "created_at": now] }, into: ns("orders"))
        // Sessions written by an older app version kept their date as ISO text.
        await store.insert([["_id": 1, "last_seen": now], ["_id": 2, "last_seen": "2019-01-01T00:00:00Z"], ["_id": 3, "last_seen": "2019-02-01T00:00:00Z"]],
                           into: ns("sessions"))
        await store.insert([["_id": 1, "at": .int64(1_546_300_800_000)]], into: ns("events"))
        await store.insert([["_id": 1, "createdAt": now]], into: ns("logs"))
        let findings = try await PolicyPathCheck(data: store, sampler: store).run([policy])

        #expect(try Self.finding(findings, "created_at", owner: "rules[0] until.field").level == .ok)
        let sessions = try Self.finding(findings, "last_seen", owner: "retention[0] field")
        #expect(sessions.level == .warning)
        #expect(sessions.message.contains("2 of its 3 values are not dates (string 2"), "\(sessions.message)")
        #expect(sessions.message.contains("never due"))
        let events = try Self.finding(findings, "at", owner: "retention[1] field")
        #expect(events.level == .warning)
        #expect(events.message.contains("none of its values is a date (long 1"), "\(events.message)")
        let logs = try Self.finding(findings, "created", owner: "retention[2] field")
        #expect(logs.level == .error)
        #expect(logs.message.contains("no document is ever due"))
        #expect(logs.message.contains("Did you mean 'createdAt'?"), "\(logs.message)")
        #expect(!findings.contains { $0.description.contains("2019-") }, "no values in findings")
    }
}
