import BSON
import Foundation
@testable import LetheCore
import LetheCoreTestSupport
import Testing

/// The restore sweep (in memory): users erased, the collections restored from a copy
/// taken before, the sweep run; the data must end as an erasure after the restore
/// leaves it, and a user who signed up again is kept.
@Suite("Restore sweep (in memory)")
struct RestoreSweeperTests {
    static let yaml = ErasurePipelineTests.yaml + """

          - collection: profiles
            match: user_id
            action: delete
        users:
          collection: profiles
          field: user_id
        """
    static let profiles = Namespace(database: "app", collection: "profiles")
    static let items = ErasurePipelineTests.items
    static let alice = ErasureSubject(userId: "alice", identities: ["alice-google"])
    static let bob = ErasureSubject(userId: "bob")
    static let dave = ErasureSubject(userId: "dave")
    /// Fixed moments, the same for every fixture (two fixtures compared document by
    /// document must make the same ObjectIds): the sign-ups long before any erasure of
    /// a test run, the re-registration a day after any of them.
    static let signedUpAt = Date(timeIntervalSince1970: 1_700_000_000)
    static let reRegisteredAt = Date().addingTimeInterval(86_400)

    /// An ObjectId made at `date`, as a driver makes one.
    static func objectId(at date: Date, _ serial: UInt8) -> BSON {
        let seconds = UInt32(date.timeIntervalSince1970)
        let bytes = [UInt8(seconds >> 24), UInt8(seconds >> 16 & 0xff), UInt8(seconds >> 8 & 0xff), UInt8(seconds & 0xff)]
            + [UInt8](repeating: 0, count: 7) + [serial]
        return .objectId(BSONObjectId(bytes: bytes)!)
    }

    struct Fixture {
        let data = InMemoryDataStore()
        let state = InMemoryStateStore()
        let engine: ErasureEngine

        /// Alice (with an identity), bob, carol and dave, their profiles made at `signedUpAt`.
        init() async throws {
            let loaded = PolicyLoader.load(yaml: RestoreSweeperTests.yaml, file: "app.yaml", options: .init(hashKeyConfigured: false))
            let policy = try #require(loaded.policies.first, "\(loaded.diagnostics)")
            engine = ErasureEngine(data: data, state: state, policies: [policy], anonymizer: nil)
            var next = 0
            func id() -> BSON { next += 1; return .int32(Int32(next)) }
            let signedUp = RestoreSweeperTests.signedUpAt
            for (serial, user) in ["alice", "bob", "carol", "dave"].enumerated() {
                await data.insert([["_id": RestoreSweeperTests.objectId(at: signedUp, UInt8(serial)), "user_id": .string(user)]], into: RestoreSweeperTests.profiles)
                await data.insert((0..<2).map { _ in ["_id": id(), "owner_id": .string(user)] }, into: ErasurePipelineTests.items)
                await data.insert([["_id": id(), "author_id": .string(user), "author_name": .string(user.capitalized)]], into: ErasurePipelineTests.comments)
                await data.insert([["_id": id(), "customer_id": .string(user), "total": 10]], into: ErasurePipelineTests.orders)
            }
            await data.insert([["_id": id(), "owner_id": "alice-google"]], into: ErasurePipelineTests.items)
            await data.insert([["_id": id(), "members": ["alice", "bob", "carol", "dave"]]], into: ErasurePipelineTests.projects)
        }

        func erase(_ subjects: [ErasureSubject]) async throws {
            var requests: [ErasureRequest] = []
            for subject in subjects { requests.append(try await engine.admission.submit(subject, source: .cli)) }
            let done = try await engine.eraser().run(requests)
            #expect(done.allSatisfy { $0.state == .done })
        }

        /// Runs the requests the restore sweep recorded, as the worker would.
        func runSweepRequests() async throws -> [ErasureRequest] {
            let recorded = await state.requests.values.filter { $0.source == .restoreSweep && $0.isOpen }
            return try await engine.eraser().run(recorded.sorted { $0.id < $1.id })
        }

        /// Dave signs up again (the same id, as an auth system that reuses ids would
        /// give), and writes a new item.
        func daveSignsUpAgain() async {
            await data.insert([["_id": RestoreSweeperTests.objectId(at: RestoreSweeperTests.reRegisteredAt, 9), "user_id": "dave"]], into: RestoreSweeperTests.profiles)
            await data.insert([["_id": 1_000, "owner_id": "dave"]], into: ErasurePipelineTests.items)
        }

        /// Every collection's documents, comparable whatever their order.
        func contents() async -> [String: Set<BSONDocument>] {
            var out: [String: Set<BSONDocument>] = [:]
            for (namespace, documents) in await data.snapshot() {
                out[namespace.description] = Set(documents)
            }
            return out
        }
    }

    @Test("erase, restore the copy taken before, sweep: the data ends as an erasure after the restore leaves it; the re-registered user is kept")
    func restoreThenSweep() async throws {
        let restored = try await Fixture()
        let copy = await restored.data.snapshot()
        try await restored.erase([Self.alice, Self.bob, Self.dave])
        // Erased a while ago, before dave signed up again.
        await restored.state.ageTombstones(by: 3_600)
        await restored.data.restore(copy)
        await restored.daveSignsUpAgain()

        // A dry run records nothing.
        let dry = try await restored.engine.restoreSweeper.sweep(dryRun: true)
        #expect(dry.restore?.users == 2 && dry.restore?.requested == 0)
        #expect(await restored.state.requests.values.filter { $0.source == .restoreSweep }.isEmpty)

        let report = try await restored.engine.restoreSweeper.sweep(dryRun: false)
        let counts = try #require(report.restore)
        #expect(counts.values == 5, "alice, alice-google, bob, carol, dave")
        #expect(counts.tombstoned == 4 && counts.reRegistered == 1 && counts.creationUnknown == 0)
        #expect(counts.users == 2 && counts.requested == 2 && counts.refused == 0)
        #expect(report.rules.first { $0.namespace == "app.items" }?.matched == 5)
        let swept = try await restored.runSweepRequests()
        #expect(swept.count == 2 && swept.allSatisfy { $0.state == .done })
        #expect(try await restored.state.receipt(requestId: swept[0].id)?.outcome == .completed)
        #expect(await restored.state.audit.contains { $0.channel == .restoreSweep && $0.event == .sweep })

        // What an erasure after the restore leaves: the copy, the re-registration, then
        // alice and bob erased (dave is a user again).
        let expected = try await Fixture()
        await expected.daveSignsUpAgain()
        try await expected.erase([Self.alice, Self.bob])
        #expect(await restored.contents() == expected.contents())

        // Swept again: nothing more to do; dave is still kept.
        let again = try await restored.engine.restoreSweeper.sweep(dryRun: false)
        #expect(again.restore?.users == 0 && again.restore?.reRegistered == 1)
    }

    @Test("one request per erased user: the user id and the identity found together; an open request is not doubled")
    func oneRequestPerUser() async throws {
        let fixture = try await Fixture()
        let copy = await fixture.data.snapshot()
        try await fixture.erase([Self.alice])
        await fixture.data.restore(copy)
        _ = try await fixture.engine.restoreSweeper.sweep(dryRun: false)
        let recorded = await fixture.state.requests.values.filter { $0.source == .restoreSweep }
        #expect(recorded.count == 1)
        #expect(recorded.first?.subject == StoredSubject(Self.alice))
        #expect(recorded.first?.subjectPseudonym == SubjectPseudonymizer(key: try await fixture.state.subjectKey()).pseudonym(for: Self.alice))
        let second = try await fixture.engine.restoreSweeper.sweep(dryRun: false)
        #expect(second.restore?.alreadyRequested == 1 && second.restore?.requested == 0)
        #expect(await fixture.state.requests.values.filter { $0.source == .restoreSweep }.count == 1)
    }

    @Test("it never widens: without tombstones nothing is requested; --since after the erasure finds nothing; the limit leaves the rest for the next sweep")
    func neverWidens() async throws {
        let fixture = try await Fixture()
        let untouched = try await fixture.engine.restoreSweeper.sweep(dryRun: false)
        #expect(untouched.restore?.values == 5 && untouched.restore?.tombstoned == 0 && untouched.restore?.requested == 0)
        let copy = await fixture.data.snapshot()
        try await fixture.erase([Self.alice, Self.bob])
        await fixture.data.restore(copy)
        let later = try await fixture.engine.restoreSweeper.sweep(dryRun: true, options: .init(since: Date().addingTimeInterval(60)))
        #expect(later.restore?.tombstoned == 0)
        let limited = try await fixture.engine.restoreSweeper.sweep(dryRun: false, options: .init(maxRequests: 1))
        #expect(limited.restore?.requested == 1 && limited.restore?.overLimit == 1)
        _ = try await fixture.runSweepRequests()
        let rest = try await fixture.engine.restoreSweeper.sweep(dryRun: false, options: .init(maxRequests: 1))
        #expect(rest.restore?.requested == 1 && rest.restore?.overLimit == 0)
        // Carol was never erased: her documents are all there.
        #expect(await fixture.data.all(Self.items).filter { $0["owner_id"] == "carol" }.count == 2)
    }

    @Test("a users document without a creation time keeps its user, counted apart")
    func creationUnknown() async throws {
        let fixture = try await Fixture()
        let copy = await fixture.data.snapshot()
        try await fixture.erase([Self.bob])
        await fixture.data.restore(copy)
        await fixture.data.insert([["_id": "bob-profile", "user_id": "bob"]], into: Self.profiles)
        let report = try await fixture.engine.restoreSweeper.sweep(dryRun: true)
        #expect(report.restore?.creationUnknown == 1 && report.restore?.users == 0)
        #expect(RestoreSweeper.creationTime(of: ["_id": "x", "created_at": .datetime(BSONDatetime(Date(timeIntervalSince1970: 5)))],
                                            users: UsersSpec(collection: "p", field: "f", created: "created_at")) == Date(timeIntervalSince1970: 5))
    }
}

/// Tombstones of named identifiers (issue 17 with issue 20): an email a request carried is
/// recognized when a backup brings it back, but never alone makes a request unless the
/// operator says the data is a restored backup's.
@Suite("Restore sweep: identifiers (in memory)")
struct RestoreIdentifierTests {
    static let yaml = """
        version: 1
        name: mflix
        database: app
        subject: { idType: string, identifiers: [email] }
        rules:
          - { collection: items, match: owner_id, action: delete }
          - { collection: comments, match: email, using: email, action: delete }
        users: { collection: users, field: user_id, created: created_at }
        """
    static let items = Namespace(database: "app", collection: "items")
    static let comments = Namespace(database: "app", collection: "comments")
    static let users = Namespace(database: "app", collection: "users")

    struct Fixture {
        let data = InMemoryDataStore()
        let state = InMemoryStateStore()
        let engine: ErasureEngine

        init() async throws {
            let loaded = PolicyLoader.load(yaml: RestoreIdentifierTests.yaml, file: "mflix.yaml", options: .init(hashKeyConfigured: false))
            let policy = try #require(loaded.policies.first, "\(loaded.diagnostics)")
            engine = ErasureEngine(data: data, state: state, policies: [policy], anonymizer: nil)
            for (n, user) in ["ada", "bob", "cy"].enumerated() {
                await data.insert([["_id": .int32(Int32(100 + n)), "user_id": .string(user),
                                    "created_at": .datetime(BSONDatetime(RestoreSweeperTests.signedUpAt))]], into: RestoreIdentifierTests.users)
                await data.insert([["_id": .int32(Int32(n * 10)), "owner_id": .string(user)]], into: RestoreIdentifierTests.items)
                await data.insert((1...2).map { ["_id": .int32(Int32(n * 10 + $0)), "email": .string("\(user)@example.com")] },
                                  into: RestoreIdentifierTests.comments)
            }
        }

        func erase(_ subject: ErasureSubject) async throws {
            let request = try await engine.admission.submit(subject, source: .cli)
            let done = try await engine.eraser().run([request])
            #expect(done.map(\.state) == [.done])
        }

        func recorded() async -> [ErasureRequest] {
            await state.requests.values.filter { $0.source == .restoreSweep }.sorted { $0.id < $1.id }
        }

        func emails() async -> [String] {
            await data.all(RestoreIdentifierTests.comments).compactMap { $0["email"]?.stringValue }.sorted()
        }
    }

    @Test("a user erased by id and email: the restored id and email make one request carrying both; the comments go again, no one else's")
    func idAndEmail() async throws {
        let fixture = try await Fixture()
        let copy = await fixture.data.snapshot()
        try await fixture.erase(ErasureSubject(userId: "ada", identifiers: ["email": "ada@example.com"]))
        #expect(await fixture.state.tombstonesById.values.map(\.kind.rawValue).sorted() == ["identifier:email", "user-id"])
        await fixture.data.restore(copy)

        let report = try await fixture.engine.restoreSweeper.sweep(dryRun: false)
        #expect(report.restore?.users == 1 && report.restore?.requested == 1 && report.restore?.identifierOnly == 0)
        #expect(report.rules.first { $0.namespace == "app.comments" }?.matched == 2)
        let recorded = await fixture.recorded()
        #expect(recorded.first?.subject?.subject == ErasureSubject(userId: "ada", identifiers: ["email": "ada@example.com"]))
        _ = try await fixture.engine.eraser().run(recorded)
        #expect(await fixture.emails() == ["bob@example.com", "bob@example.com", "cy@example.com", "cy@example.com"])
    }

    @Test("a user known only by email is counted and left (a new account may hold the address); with identifierOnly it is requested and erased")
    func emailOnly() async throws {
        let fixture = try await Fixture()
        let copy = await fixture.data.snapshot()
        try await fixture.erase(ErasureSubject(userId: nil, identifiers: ["email": "bob@example.com"]))
        #expect(await fixture.state.tombstonesById.values.map(\.kind.rawValue) == ["identifier:email"])
        let erasedBy = try #require(await fixture.state.tombstonesById.values.first?.requestId)
        await fixture.data.restore(copy)

        let cautious = try await fixture.engine.restoreSweeper.sweep(dryRun: false)
        #expect(cautious.restore?.identifierOnly == 1 && cautious.restore?.identifierOnlyRequests == [erasedBy])
        #expect(cautious.restore?.requested == 0)
        #expect(await fixture.recorded().isEmpty)

        let told = try await fixture.engine.restoreSweeper.sweep(dryRun: false, options: .init(identifierOnly: true))
        #expect(told.restore?.requested == 1 && told.restore?.identifierOnly == 0)
        _ = try await fixture.engine.eraser().run(await fixture.recorded())
        #expect(await fixture.emails() == ["ada@example.com", "ada@example.com", "cy@example.com", "cy@example.com"])
        #expect(await fixture.data.all(RestoreIdentifierTests.items).count == 3, "bob's item is linked by id, which bob's request never had")
    }

    @Test("the orphan sweep reads only rules matched with user ids: an email no users document holds is no orphan")
    func orphanSweepSkipsIdentifierRules() async throws {
        let fixture = try await Fixture()
        let report = try await fixture.engine.orphanSweeper.sweep(dryRun: true)
        #expect(report.orphans?.linked == 3)
        #expect(report.orphans?.orphans == 0)
        #expect(report.rules.map(\.namespace) == ["app.items"])
    }
}
