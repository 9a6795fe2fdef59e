import BSON
import Foundation
import LetheCore
import LetheService
import LetheTestSupport
import MongoKit
import Testing

@Suite("Retention sweeps (integration)", .enabled(if: TestServer.isConfigured, TestServer.skipReason))
struct SweepIntegrationTests {
    static let yaml = """
    version: 1
    name: sweepy
    database: DATABASE
    rules:
      - collection: notes
        match: owner
        action: delete
    retention:
      - collection: sessions
        field: last_seen
        olderThan: 180d
        action: delete
      - collection: logs
        field: at
        olderThan: 30d
        where: { kind: access }
        action: anonymize
        set: { ip: null }
        unset: [user_agent]
    """

    static func seed(_ fixture: TodoFixture) async throws {
        let day: Int64 = 86_400_000
        let now = BSONDatetime(Date()).millisecondsSinceEpoch
        func ago(_ days: Int64) -> BSON { .datetime(BSONDatetime(millisecondsSinceEpoch: now - days * day)) }
        try await fixture.database.collection("sessions").insertMany([
            ["user": "a", "last_seen": ago(400)], ["user": "b", "last_seen": ago(181)], ["user": "c", "last_seen": ago(10)],
        ])
        try await fixture.database.collection("logs").insertMany([
            ["kind": "access", "at": ago(40), "ip": "10.0.0.1", "user_agent": "x"],
            ["kind": "access", "at": ago(5), "ip": "10.0.0.2", "user_agent": "y"],
            ["kind": "audit", "at": ago(40), "ip": "10.0.0.3", "user_agent": "z"],
        ])
    }

    @Test("dry run counts and changes nothing; the real sweep erases only what is past its period")
    func sweep() async throws {
        let fixture = try await TodoFixture.make(yaml: Self.yaml)
        defer { Task { await fixture.tearDown() } }
        try await Self.seed(fixture)
        let sessionsBefore = try await fixture.database.collection("sessions").find().toArray()

        let dry = try await fixture.runtime.engine.sweep(dryRun: true)
        #expect(dry.rules.map(\.matched) == [2, 1])
        #expect(dry.rules.allSatisfy { $0.deleted == 0 && $0.modified == 0 })
        #expect(try await fixture.database.collection("sessions").find().toArray() == sessionsBefore)

        let real = try await fixture.runtime.engine.sweep(dryRun: false)
        #expect(real.rules[0].deleted == 2)
        #expect(real.rules[1].modified == 1)
        #expect(try await fixture.database.collection("sessions").find().toArray().map { $0["user"] } == ["c"])
        let logs = try await fixture.database.collection("logs").find([:], options: FindOptions(sort: ["_id": 1])).toArray()
        #expect(logs[0]["ip"] == .null)
        #expect(logs[0]["user_agent"] == nil)
        #expect(logs[1]["ip"] == "10.0.0.2")
        #expect(logs[2]["ip"] == "10.0.0.3")

        let again = try await fixture.runtime.engine.sweep(dryRun: false)
        #expect(again.rules.allSatisfy { $0.matched == 0 })
        #expect(try await fixture.runtime.state.sweeps().count == 3)
    }
}
