import BSON
import Foundation
@testable import LetheCore
import LetheCoreTestSupport
import Testing

/// A receipt is a legal statement: verification fails closed. Each test imitates a
/// way a server or the data can make a write miss, and shows the request fails with
/// a count instead of saying "verified".
@Suite("Verification fails closed (in memory)")
struct VerificationTests {
    typealias Fixture = ErasurePipelineTests.Fixture
    static let projects = ErasurePipelineTests.projects
    static let alice = ErasurePipelineTests.alice
    static let bob = ErasurePipelineTests.bob

    @Test("a server whose $in misses ids inside arrays: the pull changes nothing, and verification asks another question and fails")
    func inMissesArrays() async throws {
        let fixture = try await Fixture()
        var faults = InMemoryDataStore.Faults()
        faults.inMissesArrayElements = true
        await fixture.data.imitate(faults)
        let done = try await fixture.engine.eraser().run([try await fixture.submit(Self.alice), try await fixture.submit(Self.bob)])
        #expect(done.map(\.state) == [.failed, .failed])
        #expect(done.allSatisfy { $0.rules[2].verification == .failed && $0.rules[2].remaining == 1 })
        #expect(done.allSatisfy { $0.rules[2].modified == 0 }, "pulled from: what was counted less what is left")
    }

    @Test("a leftover that belongs to no request of the batch fails every request of it")
    func unattributableLeftover() async throws {
        let fixture = try await Fixture()
        await fixture.data.insert([["_id": 990, "members": ["carol"]]], into: Self.projects)
        var faults = InMemoryDataStore.Faults()
        faults.phantomLeftovers = [990]
        await fixture.data.imitate(faults)
        let done = try await fixture.engine.eraser().run([try await fixture.submit(Self.alice), try await fixture.submit(Self.bob)])
        #expect(done.map(\.state) == [.failed, .failed])
        #expect(done.allSatisfy { $0.rules[2].remaining == 1 })
    }

    @Test("ids are bytes: a precomposed and a decomposed 'café' are two ids, and both users' documents go")
    func unicodeIdsAreBytes() async throws {
        let precomposed = "caf\u{E9}", decomposed = "cafe\u{301}"
        #expect(BSON.string(precomposed) != BSON.string(decomposed))
        #expect(Set([BSON.string(precomposed), BSON.string(decomposed)]).count == 2)
        let bound = try SubjectBinding.bind(ErasureSubject(userId: precomposed, identities: [decomposed]), idType: .string, includeIdentities: true)
        #expect(bound.count == 2)
        let fixture = try await Fixture()
        await fixture.data.insert([["_id": 801, "owner_id": .string(precomposed)], ["_id": 802, "owner_id": .string(decomposed)]],
                                  into: ErasurePipelineTests.items)
        let done = try await fixture.engine.eraser().run(try await fixture.submit(ErasureSubject(userId: precomposed, identities: [decomposed])))
        #expect(done.state == .done && done.rules[0].deleted == 2)
        #expect(await fixture.data.all(ErasurePipelineTests.items).allSatisfy { $0["_id"] != 801 && $0["_id"] != 802 })
    }

    @Test("a rule that failed verification runs again on retry, once the data is fixed")
    func retryReappliesFailedRules() async throws {
        let fixture = try await Fixture()
        await fixture.data.insert([["_id": 900, "members": "alice"]], into: Self.projects)
        var request = try await fixture.engine.eraser().run(try await fixture.submit(Self.alice))
        #expect(request.state == .failed && request.rules[2].verification == .failed)
        // The scalar is fixed by the app's owners: an array now.
        _ = try await fixture.data.updateMany(Self.projects, filter: ["_id": 900], update: ["$set": ["members": ["alice", "carol"]]])
        request = try await fixture.engine.admission.retry(requestId: request.id)
        request = try await fixture.engine.eraser().run(request)
        #expect(request.state == .done)
        #expect(request.rules[2].verification == .passed)
        #expect(request.rules[2].modified == 2, "pulled from both documents over the two attempts")
        #expect(await fixture.data.all(Self.projects).allSatisfy { !($0["members"]?.arrayValue ?? []).contains("alice") })
    }
}

/// Paths through arrays of documents (in memory, MongoDB's semantics).
@Suite("Array elements (in memory)")
struct ArrayElementTests {
    static let yaml = """
        version: 1
        name: chat
        database: app
        rules:
          - collection: threads
            match: participants.userId
            action: pull
        """
    static let threads = Namespace(database: "app", collection: "threads")

    @Test("pull through an array of documents removes the user's elements, and only theirs")
    func pullElements() async throws {
        let (data, state) = (InMemoryDataStore(), InMemoryStateStore())
        let policy = try #require(PolicyLoader.load(yaml: Self.yaml, file: "chat.yaml", options: .init(hashKeyConfigured: false)).policies.first)
        let engine = ErasureEngine(data: data, state: state, policies: [policy], anonymizer: nil)
        await data.insert([
            ["_id": 1, "participants": [["userId": "alice", "role": "owner"], ["userId": "bob"]]],
            ["_id": 2, "participants": [["userId": "carol"]]],
        ], into: Self.threads)
        let request = try await engine.eraser().run(try await engine.admission.submit(ErasurePipelineTests.alice, source: .cli))
        #expect(request.state == .done, "\(request.note ?? "")")
        #expect(request.rules[0].modified == 1 && request.rules[0].verification == .passed)
        #expect(await data.all(Self.threads).map { $0["participants"] } == [[["userId": "bob"]], [["userId": "carol"]]])
    }

    @Test("the pulls of a path: the path as an array of ids, and each split into an array of documents and an element field")
    func pullShapes() {
        let pulls = RuleStatement.pulls(at: "a.b.c", of: ["x"])
        #expect(pulls.map(\.update) == [
            ["$pull": ["a.b.c": ["$in": ["x"]]]],
            ["$pull": ["a.b": ["c": ["$in": ["x"]]]]],
            ["$pull": ["a": ["b.c": ["$in": ["x"]]]]],
        ])
        #expect(pulls[2].filter == ["a": ["$elemMatch": ["b.c": ["$in": ["x"]]]]])
    }
}
