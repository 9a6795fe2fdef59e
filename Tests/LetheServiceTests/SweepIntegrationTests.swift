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
        try await TodoFixture.make(yaml: Self.yaml).use { fixture in
            try await Self.seed(fixture)
            let sessionsBefore = try await fixture.database.collection("sessions").find().toArray()

            let dry = try await fixture.runtime.engine.retentionSweeper.sweep(dryRun: true)
            #expect(dry.rules.map(\.matched) == [2, 1])
            #expect(dry.rules.allSatisfy { $0.deleted == 0 && $0.modified == 0 })
            #expect(try await fixture.database.collection("sessions").find().toArray() == sessionsBefore)

            let real = try await fixture.runtime.engine.retentionSweeper.sweep(dryRun: false)
            #expect(real.rules[0].deleted == 2)
            #expect(real.rules[1].modified == 1)
            #expect(try await fixture.database.collection("sessions").find().toArray().map { $0["user"] } == ["c"])
            let logs = try await fixture.database.collection("logs").find([:], options: FindOptions(sort: ["_id": 1])).toArray()
            #expect(logs[0]["ip"] == .null)
            #expect(logs[0]["user_agent"] == nil)
            #expect(logs[1]["ip"] == "10.0.0.2")
            #expect(logs[2]["ip"] == "10.0.0.3")

            let again = try await fixture.runtime.engine.retentionSweeper.sweep(dryRun: false)
            #expect(again.rules.allSatisfy { $0.matched == 0 })
            #expect(try await fixture.runtime.state.sweeps().count == 3)
        }
    }

    /// A policy keeping orders for 30 days after `created_at`, then applying `then`.
    static func keepOrders(then: String) -> String {
        """
        version: 1
        name: keep
        database: DATABASE
        rules:
          - collection: orders
            match: customer_id
            action: retain
            reason: Tax law
            until: { field: created_at, after: 30d }
            then: \(then)
        """
    }

    @Test("a retained document gets its `then` once `until` has passed, with its user's token; not before, and only it")
    func retainedThenComesDue() async throws {
        let then = "{ action: anonymize, set: { shipping_address: null }, pseudonymize: [customer_id] }"
        try await TodoFixture.make(yaml: Self.keepOrders(then: then)).use { fixture in
            let now = BSONDatetime(Date()).millisecondsSinceEpoch
            func ago(_ days: Int64) -> BSON { .datetime(BSONDatetime(millisecondsSinceEpoch: now - days * 86_400_000)) }
            let orders = fixture.database.collection("orders")
            try await orders.insertMany([
                ["_id": 1, "customer_id": "alice-0001", "created_at": ago(400), "shipping_address": "1 A St"],
                ["_id": 2, "customer_id": "alice-0001", "created_at": ago(5), "shipping_address": "1 A St"],
                ["_id": 3, "customer_id": "bob-0002", "created_at": ago(400), "shipping_address": "2 B Rd"],
                ["_id": 4, "customer_id": "carol-3", "created_at": ago(90), "shipping_address": "3 C Ln"],
                ["_id": 5, "customer_id": "dave-4", "created_at": ago(90), "shipping_address": "4 D Ave"],
            ])
            let engine = fixture.runtime.engine
            #expect(try await fixture.erase(TodoFixture.alice).state == .done)
            let pair = [try await engine.admission.submit(ErasureSubject(userId: "carol-3"), source: .cli),
                        try await engine.admission.submit(ErasureSubject(userId: "dave-4"), source: .cli)]
            #expect(try await engine.eraser().run(pair).allSatisfy { $0.state == .done })
            let before = try await orders.find([:], options: FindOptions(sort: ["_id": 1])).toArray()
            // The ledger: one entry per request and rule, each listing its documents.
            let ledger = fixture.runtime.pool.database(fixture.database.name + "_state").collection("retainedGroups")
            let entries = try await ledger.find().toArray()
            #expect(entries.count == 3)
            let listed: [BSON] = entries.flatMap { $0["documentIds"]?.arrayValue ?? [] }
            let expected: Set<BSON> = [.int32(1), .int32(2), .int32(4), .int32(5)]
            #expect(Set(listed).isSuperset(of: expected))
            for entry in entries {
                let ids: [BSON] = entry["documentIds"]?.arrayValue ?? []
                let dues: [BSON] = entry["documentDueAtMilliseconds"]?.arrayValue ?? []
                #expect(ids.count == dues.count)
            }

            let dry = try await engine.retentionSweeper.sweep(dryRun: true)
            #expect(dry.rules.map(\.action) == [.thenAnonymize])
            // Alice's order from the fixture (2023), her order 1, Carol's and Dave's: four due.
            #expect(dry.rules.first?.matched == 4)
            #expect(try await orders.find([:], options: FindOptions(sort: ["_id": 1])).toArray() == before)

            let real = try await engine.retentionSweeper.sweep(dryRun: false)
            #expect(real.rules.first?.modified == 4)
            let after = try await orders.find([:], options: FindOptions(sort: ["_id": 1])).toArray()
            let anonymizer = Anonymizer(key: testHashKey)
            #expect(after[0]["customer_id"] == .string(anonymizer.token(for: TodoFixture.alice)))
            #expect(after[0]["shipping_address"] == .null)
            #expect(after[1] == before[1], "not yet due")
            #expect(after[2] == before[2], "bob was never erased")
            #expect(after[3]["customer_id"] == .string(anonymizer.token(for: ErasureSubject(userId: "carol-3"))))
            #expect(after[4]["customer_id"] == .string(anonymizer.token(for: ErasureSubject(userId: "dave-4"))))
            #expect(try await engine.retentionSweeper.sweep(dryRun: false).rules.isEmpty, "applied entries are forgotten")
            // Alice's entry stays, holding only the order not yet due, due when it is.
            let left = try await ledger.find().toArray()
            #expect(left.count == 1)
            let due: Int64 = now - 5 * 86_400_000 + 30 * 86_400_000
            let remaining: BSON? = left.first?["documentIds"]
            let remainingDues: BSON? = left.first?["documentDueAtMilliseconds"]
            let entryDue: BSON? = left.first?["dueAtMilliseconds"]
            #expect(remaining == .array([.int32(2)]))
            #expect(remainingDues == .array([.int64(due)]))
            #expect(entryDue == .int64(due))
        }
    }

    @Test("recording a batch's retained documents again adds nothing; the sweep applies `then` once")
    func ledgerRerun() async throws {
        try await TodoFixture.make(yaml: Self.keepOrders(then: "{ action: delete }")).use { fixture in
            let state = fixture.runtime.pool.database(fixture.database.name + "_state")
            let orders = fixture.database.collection("orders")
            let namespace = Namespace(database: fixture.database.name, collection: "orders")
            let longAgo = Date(timeIntervalSinceNow: -400 * 86_400)
            let seeded: [BSONDocument] = [["_id": 10, "customer_id": "x"], ["_id": 11, "customer_id": "x"], ["_id": 12, "customer_id": "y"]]
            try await orders.insertMany(seeded)
            let recorded: [RetainedDocument] = [10, 11].map { (id: Int32) in
                RetainedDocument(requestId: "r1", policy: "keep", ruleIndex: 0, namespace: namespace, documentId: .int32(id), dueAt: longAgo, token: nil)
            }
            try await fixture.runtime.state.recordRetained(recorded)
            try await fixture.runtime.state.recordRetained(recorded)
            #expect(try await state.collection("retainedGroups").countDocuments() == 1)
            let swept = try await fixture.runtime.engine.retentionSweeper.sweep(dryRun: false)
            #expect(swept.rules.first?.deleted == 2)
            #expect(try await orders.countDocuments(["_id": ["$in": [10, 11]]]) == 0)
            #expect(try await orders.countDocuments(["_id": 12]) == 1, "not in the ledger, not touched")
            #expect(try await orders.countDocuments() > 0, "the fixture's other orders stay")
            #expect(try await state.collection("retainedGroups").countDocuments() == 0)
        }
    }
}
