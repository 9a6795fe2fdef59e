import BSON
import Foundation
@testable import LetheCore
import LetheCoreTestSupport
import Testing

/// What people do (holds, approvals, retries) is audited with who did it.
@Suite("Audited actors (in memory)")
struct PeopleWhoActTests {
    @Test("placing and lifting a hold, approving and retrying each leave an audit entry naming the actor; the hold's reason stays with the hold")
    func actors() async throws {
        let fixture = try await ErasurePipelineTests.Fixture(options: .init(maxDocumentsPerRequest: 2))
        let engine = fixture.engine
        let hold = try await engine.legalHolds.place(on: ErasurePipelineTests.alice, reason: "case 2026-17", actor: "ops-anna")
        #expect(try await engine.legalHolds.lift(holdId: hold.id, actor: "ops-ben"))
        #expect(try await engine.legalHolds.lift(holdId: hold.id, actor: "ops-ben") == false, "lifted once")
        var request = try await engine.eraser().run(try await fixture.submit(ErasurePipelineTests.alice))
        #expect(request.state == .needsApproval)
        request = try await engine.admission.approve(requestId: request.id, actor: "dpo-carla")
        let trail = await fixture.state.audit
        let placed = try #require(trail.first { $0.event == .holdPlaced })
        #expect(placed.actor == "ops-anna" && placed.subjectPseudonym == hold.subjectPseudonym)
        #expect(trail.filter { $0.event == .holdLifted }.map(\.actor) == ["ops-ben"])
        #expect(trail.first { $0.event == .approved }?.actor == "dpo-carla")
        #expect(!trail.contains { ($0.note ?? "").contains("2026-17") }, "the hold's free text is not in the trail")

        let failing = try await ErasurePipelineTests.Fixture()
        await failing.data.insert([["_id": 900, "members": "alice"]], into: ErasurePipelineTests.projects)
        let failed = try await failing.engine.eraser().run(try await failing.submit(ErasurePipelineTests.alice))
        _ = try await failing.engine.admission.retry(requestId: failed.id, actor: "ops-dan")
        #expect(await failing.state.audit.first { $0.event == .retried }?.actor == "ops-dan")
    }
}
