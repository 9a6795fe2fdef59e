import BSON
import Foundation
@testable import LetheCore
import LetheCoreTestSupport
import Testing

/// The orphan sweep must never erase a living user (in memory).
@Suite("Orphan sweep (in memory)")
struct OrphanSweeperTests {
    static let yaml = ErasurePipelineTests.yaml + """

        users:
          collection: profiles
          field: user_id
          identities: identity_ids
        """
    static let profiles = Namespace(database: "app", collection: "profiles")

    static func engine(data: InMemoryDataStore, state: InMemoryStateStore) throws -> ErasureEngine {
        let loaded = PolicyLoader.load(yaml: yaml, file: "app.yaml", options: .init(hashKeyConfigured: false))
        let policy = try #require(loaded.policies.first, "\(loaded.diagnostics)")
        return ErasureEngine(data: data, state: state, policies: [policy], anonymizer: nil)
    }

    @Test("an identities field no users document holds is refused before anything is recorded: every linked identity would look orphaned")
    func identitiesFieldMissing() async throws {
        let (data, state) = (InMemoryDataStore(), InMemoryStateStore())
        await data.insert([["_id": 1, "user_id": "alice"]], into: Self.profiles)
        await data.insert([["_id": 2, "owner_id": "alice"], ["_id": 3, "owner_id": "alice-google-1"]], into: ErasurePipelineTests.items)
        let sweeper = try Self.engine(data: data, state: state).orphanSweeper
        await #expect { try await sweeper.sweep(dryRun: false, options: .init(allowMany: true)) } throws: { error in
            guard case OrphanSweepError.usersFieldMissing(_, _, let field) = error else { return false }
            return field == "identity_ids"
        }
        #expect(await state.requests.isEmpty)
        #expect(await state.sweeps.isEmpty)
        // Listed, the identity is a living user's.
        _ = try await data.updateMany(Self.profiles, filter: ["_id": 1], update: ["$set": ["identity_ids": ["alice-google-1"]]])
        let report = try await sweeper.sweep(dryRun: true)
        #expect(report.orphans?.orphans == 0)
    }

    @Test("a user erased already, whose only documents left are retained, is not requested again")
    func retainedOnlyIsNotAnOrphan() async throws {
        let (data, state) = (InMemoryDataStore(), InMemoryStateStore())
        await data.insert([["_id": 1, "user_id": "bob", "identity_ids": ["bob-apple"]]], into: Self.profiles)
        await data.insert([["_id": 2, "owner_id": "bob"]], into: ErasurePipelineTests.items)
        await data.insert([["_id": 3, "customer_id": "gone"], ["_id": 4, "customer_id": "bob"]], into: ErasurePipelineTests.orders)
        let report = try await Self.engine(data: data, state: state).orphanSweeper.sweep(dryRun: true)
        #expect(report.orphans?.orphans == 0, "the retained order of an erased user makes no orphan")
        #expect(report.orphans?.linked == 1)
    }

    @Test("per rule, the documents to change: from the read's own counts, and by a count where two orphans share a document")
    func matchedCounts() async throws {
        let (data, state) = (InMemoryDataStore(), InMemoryStateStore())
        await data.insert([["_id": 1, "user_id": "alice", "identity_ids": ["alice-apple"]]], into: Self.profiles)
        await data.insert([["_id": 2, "owner_id": "gone1"], ["_id": 3, "owner_id": "gone1"], ["_id": 4, "owner_id": "gone2"],
                           ["_id": 5, "owner_id": "alice"]], into: ErasurePipelineTests.items)
        await data.insert([["_id": 6, "members": ["gone1", "gone2", "alice"]], ["_id": 7, "members": ["gone1"]],
                           ["_id": 8, "members": ["alice"]]], into: ErasurePipelineTests.projects)
        let engine = try Self.engine(data: data, state: state)
        let before = await data.commands["count", default: 0]
        let report = try await engine.orphanSweeper.sweep(dryRun: true, options: .init(allowMany: true))
        let matched = Dictionary(uniqueKeysWithValues: report.rules.map { ($0.namespace, $0.matched) })
        #expect(report.orphans?.orphans == 2)
        #expect(matched["app.items"] == 3, "gone1 twice, gone2 once: the groups' counts")
        #expect(matched["app.projects"] == 2, "project 6 holds both orphans and counts once")
        #expect(await data.commands["count", default: 0] - before == 1, "one count, for the rule whose groups overlap")
    }
}
