import BSON
import Foundation
import LetheCore
import LetheService
import LetheTestSupport
import MongoKit
import Testing

@Suite("Orphan sweeps (integration)", .enabled(if: TestServer.isConfigured, TestServer.skipReason), .serialized)
struct OrphanSweepIntegrationTests {
    /// The todo policy, with its users in custom_user_data (and their identity ids).
    static let yaml = todoPolicyYAML + """

    users:
      collection: custom_user_data
      field: user_id
      identities: identity_ids
      grace: 1d
    """

    static let carol = "carol-0003"
    static let day: TimeInterval = 86_400

    /// The todo data, with the users' identity ids listed, and a third user, carol,
    /// whose data is all there but whose custom user data is gone: an orphan.
    static func make(yaml: String = yaml, options: ErasureEngine.Options = .init()) async throws -> TodoFixture {
        let fixture = try await TodoFixture.make(yaml: yaml, options: options)
        let profiles = fixture.database.collection("custom_user_data")
        try await profiles.updateOne(["user_id": "alice-0001"], ["$set": ["identity_ids": ["alice-google-77"]]])
        try await profiles.updateOne(["user_id": "bob-0002"], ["$set": ["identity_ids": ["bob-apple-88"]]])
        let created = BSONDatetime(millisecondsSinceEpoch: 1_700_000_000_000)
        try await fixture.database.collection("Item").insertMany([
            ["summary": "carol's first", "owner_id": .string(carol)], ["summary": "carol's second", "owner_id": .string(carol)],
        ])
        try await fixture.database.collection("comments").insertOne(
            ["text": "fourth", "author": ["id": .string(carol), "name": "Carol", "email": "carol@example.com", "ip": "10.0.0.3"]])
        try await fixture.database.collection("projects").updateOne(["title": "shared"], ["$push": ["members": .string(carol)]])
        try await fixture.database.collection("orders").insertOne(
            ["customer_id": .string(carol), "created_at": .datetime(created), "shipping_address": "3 Carol Lane"])
        try await fixture.database.collection("shared_docs").insertOne(["owner_id": .string(carol), "shared": true, "title": "carol's"])
        return fixture
    }

    /// The fixture's engine with its clock set to `date`.
    static func engine(_ fixture: TodoFixture, at date: Date) -> ErasureEngine {
        let engine = fixture.runtime.engine
        return ErasureEngine(data: engine.data, state: engine.state, policies: engine.policies, anonymizer: engine.anonymizer,
                             options: engine.options, now: { date })
    }

    static let lenient = OrphanSweeper.Options(maxOrphans: 10, maxShare: 0.5)

    /// The `_id`s of the documents that hold carol's id.
    static func carols(_ snapshot: [String: [BSONDocument]]) -> Set<BSON> {
        Set(snapshot.values.joined().filter { $0.extendedJSON(.canonical).contains(carol) }.compactMap { $0["_id"] })
    }

    /// Every document but `excluded`, to check that other users' documents are untouched.
    static func others(_ snapshot: [String: [BSONDocument]], excluding excluded: Set<BSON>) -> [String: [BSONDocument]] {
        snapshot.mapValues { $0.filter { !excluded.contains($0["_id"] ?? .null) } }
    }

    @Test("a dry run counts the orphan per rule, records no request and changes nothing")
    func dryRun() async throws {
        try await Self.make().use { fixture in
            let before = try await fixture.snapshot()

            let report = try await fixture.runtime.engine.orphanSweeper.sweep(dryRun: true, options: Self.lenient)
            #expect(report.kind == .orphans && report.dryRun)
            #expect(report.orphans == SweepReport.Orphans(linked: 5, orphans: 1, waiting: 1, alreadyRequested: 0, requested: 0, refused: 0))
            let byCollection = Dictionary(report.rules.map { ($0.namespace.split(separator: ".").last.map(String.init)!, $0) }) { a, _ in a }
            #expect(byCollection["Item"]?.users == 1 && byCollection["Item"]?.matched == 2)
            #expect(byCollection["custom_user_data"]?.users == 0 && byCollection["custom_user_data"]?.matched == 0)
            #expect(byCollection["comments"]?.matched == 1)
            #expect(byCollection["projects"]?.matched == 1)
            #expect(byCollection["orders"]?.matched == 1)
            #expect(try await fixture.snapshot() == before, "a dry run changes nothing")
            #expect(try await fixture.runtime.state.requests().isEmpty)
            let carol = SubjectPseudonymizer(key: testSubjectKey).pseudonym(for: ErasureSubject(userId: Self.carol))
            #expect(try await fixture.runtime.state.orphanCandidates(subjectPseudonyms: [carol]).isEmpty, "not even a candidate")
            // Nothing in what was recorded holds the id.
            let sweeps = try await fixture.runtime.pool.database(fixture.database.name + "_state").collection("sweeps").find().toArray()
            let audit = try await fixture.runtime.state.auditTrail()
            #expect(sweeps.count == 1)
            #expect(!(sweeps.map { $0.extendedJSON(.canonical) } + audit.map { "\($0)" }).joined().contains("carol"))
        }
    }

    @Test("an orphan is requested only after the grace period, then erased by the same rules; others untouched; once only")
    func erasesOrphansAfterGrace() async throws {
        try await Self.make().use { fixture in
            let before = try await fixture.snapshot()
            let start = Date()

            let first = try await Self.engine(fixture, at: start).orphanSweeper.sweep(dryRun: false, options: Self.lenient)
            #expect(first.orphans?.orphans == 1 && first.orphans?.waiting == 1 && first.orphans?.requested == 0)
            #expect(try await fixture.runtime.state.requests().isEmpty, "first seen now: waits for the grace period")
            let early = try await Self.engine(fixture, at: start.addingTimeInterval(Self.day / 2)).orphanSweeper.sweep(dryRun: false, options: Self.lenient)
            #expect(early.orphans?.waiting == 1 && early.orphans?.requested == 0, "the first sighting is kept, not renewed")

            let later = Self.engine(fixture, at: start.addingTimeInterval(Self.day + 60))
            let second = try await later.orphanSweeper.sweep(dryRun: false, options: Self.lenient)
            #expect(second.orphans?.requested == 1 && second.orphans?.waiting == 0)
            let requests = try await fixture.runtime.state.requests()
            #expect(requests.count == 1)
            #expect(requests.first?.source == .orphanSweep)
            #expect(requests.first?.dedupeKey?.hasPrefix("orphan-sweep:subj_") == true)
            #expect(try await fixture.snapshot() == before, "recording requests changes no data")

            // The normal worker path: the same batch processing as `lethe run --once`.
            let summary = try await QueueWorker(engine: fixture.runtime.engine).drain()
            #expect(summary.count(.done) == 1)
            let after = try await fixture.snapshot()
            #expect(after["Item"]!.filter { $0["owner_id"] == .string(Self.carol) }.isEmpty, "deleted")
            let comment = try #require(after["comments"]!.first { $0["text"] == "fourth" })
            #expect(comment.value(atPath: "author.name") == "Deleted user")
            #expect(comment.value(atPath: "author.email") == nil)
            #expect(comment.value(atPath: "author.id")?.stringValue?.hasPrefix("anon_") == true, "pseudonymized")
            let shared = try #require(after["projects"]!.first { $0["title"] == "shared" })
            #expect(shared["members"] == ["alice-0001", "bob-0002"], "pulled")
            #expect(after["orders"]!.contains { $0["customer_id"] == .string(Self.carol) }, "retained, as the policy says")
            #expect(after["shared_docs"]!.first { $0["title"] == "carol's" }?["owner_id"] == .null, "anonymized")
            let touched = Self.carols(before)
            #expect(touched.count == 6)
            #expect(Self.others(after, excluding: touched) == Self.others(before, excluding: touched), "alice's and bob's documents are untouched")
            let receipt = try #require(try await fixture.runtime.state.receipt(requestId: requests[0].id))
            #expect(receipt.rules.first { $0.namespace.hasSuffix(".Item") }?.deleted == 2)

            // Carol's retained order is all that links to her: it makes no orphan (a request
            // would change nothing there), so she is not found again. Her comment's
            // pseudonym token is no user's id, and is not taken for an orphan.
            let third = try await Self.engine(fixture, at: start.addingTimeInterval(3 * Self.day)).orphanSweeper.sweep(dryRun: false, options: Self.lenient)
            #expect(third.orphans?.requested == 0 && third.orphans?.alreadyRequested == 0 && third.orphans?.orphans == 0)
            #expect(try await fixture.runtime.state.requests().count == 1)
            #expect(try await fixture.runtime.state.sweeps().filter { $0.kind == .orphans }.count == 4)
        }
    }

    @Test("an orphan with a pending request (its event arrived after all) gets no second request")
    func openRequestIsEnough() async throws {
        try await Self.make().use { fixture in
            _ = try await fixture.runtime.engine.admission.submit(ErasureSubject(userId: Self.carol), source: .cli)
            let report = try await fixture.runtime.engine.orphanSweeper.sweep(dryRun: false, options: Self.lenient)
            #expect(report.orphans?.alreadyRequested == 1 && report.orphans?.orphans == 0)
            #expect(try await fixture.runtime.state.requests().count == 1)
        }
    }

    @Test("refused, with nothing recorded, when the users collection is empty, missing, or lacks the field")
    func refusesWithoutUsers() async throws {
        try await Self.make().use { fixture in
            let before = try await fixture.snapshot()

            let wrongField = try TodoFixture.policy(database: fixture.database.name, yaml: Self.yaml.replacingOccurrences(of: "field: user_id", with: "field: userId"))
            let engine = fixture.runtime.engine
            let withWrongField = ErasureEngine(data: engine.data, state: engine.state, policies: [wrongField], anonymizer: engine.anonymizer)
            await #expect { try await withWrongField.orphanSweeper.sweep(dryRun: false, options: Self.lenient) } throws: { error in
                guard case OrphanSweepError.usersFieldMissing = error else { return false }
                return "\(error)".contains("custom_user_data") && "\(error)".contains("'userId'") && "\(error)".contains("users.field")
            }

            let missing = try TodoFixture.policy(database: fixture.database.name, yaml: Self.yaml.replacingOccurrences(of: "collection: custom_user_data\n  field", with: "collection: customUserData\n  field"))
            let withMissing = ErasureEngine(data: engine.data, state: engine.state, policies: [missing], anonymizer: engine.anonymizer)
            await #expect { try await withMissing.orphanSweeper.sweep(dryRun: true, options: Self.lenient) } throws: { error in
                guard case OrphanSweepError.usersCollectionEmpty = error else { return false }
                return "\(error)".contains("\(fixture.database.name).customUserData") && "\(error)".contains("users.collection")
            }

            try await fixture.database.collection("custom_user_data").deleteMany([:])
            await #expect(throws: OrphanSweepError.self) { try await engine.orphanSweeper.sweep(dryRun: false, options: .init(allowMany: true)) }
            #expect(try await fixture.runtime.state.requests().isEmpty)
            var expected = before
            expected["custom_user_data"] = []
            #expect(try await fixture.snapshot() == expected)
        }
    }

    @Test("refused past the limits (count or share of linked users) unless allowed; a dry run says it would be")
    func limits() async throws {
        try await Self.make().use { fixture in
            let engine = Self.engine(fixture, at: Date())

            // 1 orphan out of 5 linked ids (alice, bob, carol, and alice's and bob's identities): 20 %.
            let dry = try await engine.orphanSweeper.sweep(dryRun: true, options: .init())
            #expect(dry.orphans?.refusal?.contains("1 orphan id(s) are 20 % of the 5 linked ids, more than the limit of 10 %") == true)
            await #expect { try await engine.orphanSweeper.sweep(dryRun: false, options: .init()) } throws: { error in
                guard case OrphanSweepError.tooMany(1, 5, _) = error else { return false }
                return "\(error)".contains("--allow-many") && !"\(error)".contains("carol")
            }
            await #expect(throws: OrphanSweepError.self) { try await engine.orphanSweeper.sweep(dryRun: false, options: .init(maxOrphans: 0, maxShare: 1)) }
            #expect(try await fixture.runtime.state.orphanCandidates(subjectPseudonyms: [SubjectPseudonymizer(key: testSubjectKey).pseudonym(for: ErasureSubject(userId: Self.carol))]).isEmpty,
                    "a refused sweep records nothing")

            let allowed = try await engine.orphanSweeper.sweep(dryRun: false, options: .init(allowMany: true))
            #expect(allowed.orphans?.orphans == 1 && allowed.orphans?.refusal == nil)
            #expect(OrphanSweeper.limitCrossed(orphans: 101, linked: 100_000, options: .init()) == "101 orphan id(s), more than the limit of 100")
            #expect(OrphanSweeper.limitCrossed(orphans: 100, linked: 1_000, options: .init()) == nil)
        }
    }

    @Test("ids are typed per the policy: an objectId policy finds ObjectId orphans, and a users collection holding the hex strings counts")
    func objectIds() async throws {
        let yaml = """
        version: 1
        name: oid
        database: DATABASE
        subject: { idType: objectId, includeIdentities: false }
        rules:
          - collection: notes
            match: owner
            action: delete
        users: { collection: accounts, field: uid }
        """
        try await TodoFixture.make(yaml: yaml).use { fixture in
            let (kept, orphan) = (BSONObjectId(), BSONObjectId())
            try await fixture.database.collection("accounts").insertOne(["uid": .string(kept.hex)])
            try await fixture.database.collection("notes").insertMany([
                ["owner": .objectId(kept)], ["owner": .objectId(orphan)], ["owner": .objectId(orphan)], ["owner": "not-an-objectid"],
            ])
            let start = Date()
            _ = try await Self.engine(fixture, at: start).orphanSweeper.sweep(dryRun: false, options: Self.lenient)
            let report = try await Self.engine(fixture, at: start.addingTimeInterval(2 * Self.day)).orphanSweeper.sweep(dryRun: false, options: Self.lenient)
            #expect(report.orphans?.linked == 2)
            #expect(report.orphans?.requested == 1)
            KnownDeviation.countByObjectIdReturnsZero.expectOnMongoDB { #expect(report.rules.first?.matched == 2) }
            _ = try await QueueWorker(engine: fixture.runtime.engine).drain()
            let notes = try await fixture.database.collection("notes").find().toArray()
            #expect(notes.map { $0["owner"] } == [.objectId(kept), "not-an-objectid"])
        }
    }

    @Test("existing users linked by ObjectIds and by arrays of ids are never orphans, whatever the server's $group returns for them")
    func typedOwnersAreNotOrphans() async throws {
        let yaml = """
        version: 1
        name: typed
        database: DATABASE
        subject: { idType: any, includeIdentities: false }
        rules:
          - collection: notes
            match: owner
            action: delete
          - collection: boards
            match: members
            action: delete
        users: { collection: accounts, field: uid }
        """
        try await TodoFixture.make(yaml: yaml).use { fixture in
            let (kept, orphan) = (BSONObjectId(), BSONObjectId())
            try await fixture.database.collection("accounts").insertMany([["uid": .objectId(kept)], ["uid": "ann"], ["uid": "ben"]])
            try await fixture.database.collection("notes").insertMany([
                ["owner": .objectId(kept)], ["owner": .objectId(kept)], ["owner": "ann"], ["owner": .objectId(orphan)],
            ])
            try await fixture.database.collection("boards").insertMany([["members": ["ann", "ben"]], ["members": ["ben", "zed"]]])
            let report = try await fixture.runtime.engine.orphanSweeper.sweep(dryRun: true, options: Self.lenient)
            // Linked: kept, ann, ben, orphan, zed; orphans: orphan and zed, nothing else.
            #expect(report.orphans?.linked == 5)
            #expect(report.orphans?.orphans == 2)
            _ = try await Self.engine(fixture, at: Date()).orphanSweeper.sweep(dryRun: false, options: Self.lenient)
            let later = try await Self.engine(fixture, at: Date().addingTimeInterval(2 * Self.day)).orphanSweeper.sweep(dryRun: false, options: Self.lenient)
            #expect(later.orphans?.requested == 2)
            _ = try await QueueWorker(engine: fixture.runtime.engine).drain()
            let notes = try await fixture.database.collection("notes").find().toArray()
            #expect(Set(notes.compactMap { $0["owner"] }) == [.objectId(kept), "ann"])
            #expect(notes.count == 3)
            let boards = try await fixture.database.collection("boards").find().toArray()
            #expect(boards.count == 1 && boards.first?["members"] == ["ann", "ben"])
        }
    }

}
