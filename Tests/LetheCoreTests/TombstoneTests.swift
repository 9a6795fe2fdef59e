import BSON
import Foundation
@testable import LetheCore
import LetheCoreTestSupport
import Testing

/// Tombstones: written when a request finishes, once per value and request, never the
/// value itself, and kept as long as the policies say (in memory).
@Suite("Tombstones (in memory)")
struct TombstoneTests {
    typealias Fixture = ErasurePipelineTests.Fixture

    @Test("a finished request leaves one keyed tombstone per erased id, with its request and finish time; never the id")
    func writtenAtFinish() async throws {
        let fixture = try await Fixture()
        let subject = ErasureSubject(userId: "alice", identities: ["alice-google"])
        let done = try await fixture.engine.eraser().run(try await fixture.engine.admission.submit(subject, source: .cli))
        #expect(done.state == .done)
        let stored = Array(await fixture.state.tombstonesById.values)
        let keyer = TombstoneKeyer(key: try await fixture.state.subjectKey())
        #expect(Set(stored.map(\.key)) == [keyer.key(for: "alice"), keyer.key(for: "alice-google")])
        #expect(Set(stored.map(\.kind)) == [.userId, .identity])
        #expect(stored.allSatisfy { $0.requestId == done.id && $0.erasedAt == done.finishedAt })
        #expect(stored.allSatisfy { !$0.key.contains("alice") && $0.key.hasPrefix("tomb_") && $0.key.count == 37 })
        #expect(keyer.key(for: "alice") != SubjectPseudonymizer(key: try await fixture.state.subjectKey()).pseudonym(for: Self.alice),
                "a purpose of its own")
    }

    static let alice = ErasureSubject(userId: "alice")

    @Test("a request that fails its verification leaves no tombstone; only what was erased is kept")
    func noneWhenFailed() async throws {
        let fixture = try await Fixture()
        await fixture.data.imitate({ var faults = InMemoryDataStore.Faults(); faults.phantomLeftovers = [.int32(999)]; return faults }())
        let failed = try await fixture.engine.eraser().run(try await fixture.submit(Self.alice))
        #expect(failed.state == .failed)
        #expect(await fixture.state.tombstonesById.isEmpty)
    }

    @Test("identities no policy erases get no tombstone: the restore sweep could otherwise erase more than the request did")
    func identitiesOnlyWhenIncluded() throws {
        let policy = Policy(name: "p", database: "app", subject: SubjectSpec(idType: .any, includeIdentities: false),
                            rules: [ErasureRule(collection: "items", match: ["owner_id"], action: .delete)])
        let engine = ErasureEngine(data: InMemoryDataStore(), state: InMemoryStateStore(), policies: [policy], anonymizer: nil)
        let id = "64b7f0c2a1b2c3d4e5f60718"
        let values = engine.tombstoneValues(of: ErasureSubject(userId: id.uppercased(), identities: ["other"]))
        // `any`: the string as written and the ObjectId (its lower-case hex) were both erased.
        #expect(values == [TombstoneValue(kind: .userId, text: id.uppercased()), TombstoneValue(kind: .userId, text: id)])
    }

    @Test("a crash in the finish after the tombstones, then a rerun: the same tombstones, once each")
    func crashAfterTombstones() async throws {
        let fixture = try await Fixture()
        let request = try await fixture.submit(Self.alice)
        await fixture.state.setCrashAfterTombstones()
        await #expect(throws: LeaseLost.self) { try await fixture.engine.eraser().run(request) }
        #expect(await fixture.state.tombstonesById.count == 1)
        let stored = try #require(try await fixture.state.request(id: request.id))
        #expect(stored.state == .running && stored.subject != nil)
        let done = try await fixture.engine.eraser().run(stored)
        #expect(done.state == .done)
        #expect(await fixture.state.tombstonesRecorded == 2, "written again by the rerun")
        #expect(await fixture.state.tombstonesById.count == 1, "and kept once")
    }

    @Test("a crash in the finish after the receipt: the rerun concludes from the receipt and writes no tombstone again")
    func crashAfterReceipt() async throws {
        let fixture = try await Fixture()
        let request = try await fixture.submit(Self.alice)
        await fixture.state.setCrashOnFinalSave()
        await #expect(throws: LeaseLost.self) { try await fixture.engine.eraser().run(request) }
        let stored = try #require(try await fixture.state.request(id: request.id))
        let done = try await fixture.engine.eraser().run(stored)
        #expect(done.state == .done && done.subject == nil)
        #expect(await fixture.state.tombstonesRecorded == 1)
        #expect(await fixture.state.tombstonesById.count == 1)
    }

    @Test("the retention sweep removes tombstones older than tombstones.keep (a dry run counts them)")
    func retention() async throws {
        let fixture = try await Fixture()
        _ = try await fixture.engine.eraser().run([try await fixture.submit(Self.alice), try await fixture.submit(ErasurePipelineTests.bob)])
        #expect(await fixture.state.tombstonesById.count == 2)
        #expect(try await fixture.engine.retentionSweeper.sweep(dryRun: false).tombstonesRemoved == 0)
        await fixture.state.ageTombstones(by: 401 * 86_400)
        #expect(try await fixture.engine.retentionSweeper.sweep(dryRun: true).tombstonesRemoved == 2)
        #expect(await fixture.state.tombstonesById.count == 2)
        #expect(try await fixture.engine.retentionSweeper.sweep(dryRun: false).tombstonesRemoved == 2)
        #expect(await fixture.state.tombstonesById.isEmpty)
    }

    @Test("tombstones.keep: a duration, checked with file:line; default 400 days; the longest across policies applies, with a warning")
    func policyKey() throws {
        let base = "version: 1\nname: NAME\ndatabase: app\nrules: [ { collection: items, match: owner_id, action: delete } ]\n"
        let wrong = PolicyLoader.load(yaml: base.replacingOccurrences(of: "NAME", with: "a") + "tombstones:\n  keep: 400\n", file: "a.yaml")
        let error = try #require(wrong.diagnostics.first { $0.isError })
        #expect(error.file == "a.yaml" && error.line == 6 && error.keyPath == "tombstones.keep")
        #expect(error.hint?.contains("400d") == true)
        let typo = PolicyLoader.load(yaml: base.replacingOccurrences(of: "NAME", with: "a") + "tombstones: { keeps: 30d }\n", file: "a.yaml")
        #expect(typo.diagnostics.contains { $0.isError && $0.hint == "did you mean 'keep'?" })

        let short = try #require(PolicyLoader.load(yaml: base.replacingOccurrences(of: "NAME", with: "a") + "tombstones: { keep: 30d }\n").policies.first)
        let plain = try #require(PolicyLoader.load(yaml: base.replacingOccurrences(of: "NAME", with: "b")).policies.first)
        #expect(plain.effectiveTombstoneKeep == PolicyDuration(400, .day))
        #expect(short.effectiveTombstoneKeep == PolicyDuration(30, .day))
        #expect(short.fingerprint != PolicyLoader.load(yaml: base.replacingOccurrences(of: "NAME", with: "a")).policies.first?.fingerprint)
        let engine = ErasureEngine(data: InMemoryDataStore(), state: InMemoryStateStore(), policies: [short, plain], anonymizer: nil)
        #expect(engine.tombstoneKeep == PolicyDuration(400, .day))
        let warnings = TombstoneKeepAcrossPolicies.diagnostics([short, plain])
        #expect(warnings.count == 1 && warnings[0].severity == .warning && warnings[0].message.contains("400d"))
        #expect(TombstoneKeepAcrossPolicies.diagnostics([plain, plain]).isEmpty)
    }
}
