import BSON
import Foundation
import LetheCore
import LetheService
import LetheTestSupport
import MongoKit
import Testing

/// The shapes the sweeps send at scale, on the server: retention writes by counted
/// windows of the date field, and distinct values by aggregation (docs/test-server.md).
@Suite("Sweep shapes (integration)", .enabled(if: TestServer.isConfigured, TestServer.skipReason))
struct SweepShapeIntegrationTests {
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
      - collection: events
        field: at
        olderThan: 90d
        action: anonymize
        unset: [ip]
    """

    static func ago(_ days: Int64) -> BSON {
        .datetime(BSONDatetime(millisecondsSinceEpoch: BSONDatetime(Date()).millisecondsSinceEpoch - days * 86_400_000))
    }

    @Test("retention in writes of at most 3 (date windows) over int, double, string and ObjectId ids, old and recent interleaved: exactly the old go")
    func mixedIdTypes() async throws {
        try await TodoFixture.make(yaml: Self.yaml, options: .init(batchSize: 3, sweepBatchSize: 3)).use { fixture in
            let sessions = fixture.database.collection("sessions")
            var seeded: [BSONDocument] = []
            for n in 0..<6 {
                // Distinct dates: a batch is a range of dates, and equal dates share one.
                let age = { (k: Int64) -> Int64 in (n.isMultiple(of: 2) ? 400 : 10) + Int64(4 * n) + k }
                seeded.append(["_id": .int32(Int32(n)), "last_seen": Self.ago(age(0))])
                seeded.append(["_id": .double(Double(n) + 0.5), "last_seen": Self.ago(age(1))])
                seeded.append(["_id": .string("s\(n)"), "last_seen": Self.ago(age(2))])
                seeded.append(["_id": .objectId(BSONObjectId(String(format: "65a0000000000000000000%02x", n))!), "last_seen": Self.ago(age(3))])
            }
            try await sessions.insertMany(seeded)
            let report = try await fixture.runtime.engine.retentionSweeper.sweep(dryRun: false)
            #expect(report.rules.first?.matched == 12)
            #expect(report.rules.first?.deleted == 12)
            let left = Set(try await sessions.find().toArray().compactMap { $0["_id"] })
            #expect(left == Set(seeded.filter(Self.isRecent).compactMap { $0["_id"] }))
            #expect(left.count == 12)
        }
    }

    static func isRecent(_ document: BSONDocument) -> Bool {
        guard case .datetime(let date)? = document["last_seen"] else { return false }
        return date.millisecondsSinceEpoch > BSONDatetime(Date()).millisecondsSinceEpoch - 100 * 86_400_000
    }

    @Test("date windows: no write over the bound, and a document touched after the counts is not written (the window keeps the cut-off)")
    func windowsKeepTheCutoff() async throws {
        try await TodoFixture.make(yaml: Self.yaml).use { fixture in
            let sessions = fixture.database.collection("sessions")
            // Ten old sessions a day apart, four of them on one millisecond (one over-full second), and a recent one.
            let crowded = Self.ago(500)
            try await sessions.insertMany((1...10).map { n in ["_id": .int32(Int32(n)), "last_seen": n > 6 ? crowded : Self.ago(400 + Int64(n))] }
                                          + [["_id": 11, "last_seen": Self.ago(10)]])
            let namespace = Namespace(database: fixture.database.name, collection: "sessions")
            let cutoff = BSONDatetime(millisecondsSinceEpoch: BSONDatetime(Date()).millisecondsSinceEpoch - 180 * 86_400_000)
            let old: BSONDocument = ["last_seen": ["$lt": .datetime(cutoff)]]
            let data = fixture.runtime.data
            let writes = Tally()
            let largest = Tally()
            try await data.forEachWriteWindow(namespace, filter: old, dateField: "last_seen", before: cutoff, matched: 10,
                                              bound: 3, readBatchSize: 2) { filters in
                if writes.value == 0 {
                    // Sessions 1 (the newest old one) and 10 (on the crowded millisecond) are used again.
                    _ = try await data.updateMany(namespace, filter: ["_id": ["$in": [1, 10]]], update: ["$set": ["last_seen": Self.ago(0)]])
                }
                for filter in filters {
                    let deleted = try await data.deleteMany(namespace, filter: filter)
                    writes.add(deleted)
                    largest.raise(to: deleted)
                }
            }
            #expect(writes.value == 8)
            #expect(largest.value <= 3)
            #expect(try await sessions.find([:], options: FindOptions(sort: ["_id": 1])).toArray().compactMap { $0["_id"]?.intValue } == [1, 10, 11])
        }
    }

    @Test("anonymization in batches: `ip` unset past the period only; a crashed sweep's rerun finishes the rest")
    func anonymizeAndResume() async throws {
        try await TodoFixture.make(yaml: Self.yaml, options: .init(batchSize: 4, sweepBatchSize: 4)).use { fixture in
            let events = fixture.database.collection("events")
            try await events.insertMany((0..<12).map { n in
                ["_id": .int32(Int32(n)), "at": Self.ago(n < 9 ? 100 + Int64(n) : 5), "ip": .string("10.0.0.\(n)"), "kind": "click"]
            })
            // A sweep that stopped part-way: some old events already anonymized.
            _ = try await events.updateMany(["_id": ["$in": [0, 4]]], ["$unset": ["ip": ""]])
            let report = try await fixture.runtime.engine.retentionSweeper.sweep(dryRun: false)
            #expect(report.rules.last?.matched == 7)
            #expect(report.rules.last?.modified == 7)
            let after = try await events.find([:], options: FindOptions(sort: ["_id": 1])).toArray()
            #expect(after.filter { $0["ip"] == nil }.compactMap { $0["_id"]?.intValue } == Array(0..<9))
            #expect(after.allSatisfy { $0["kind"] == "click" })
            let again = try await fixture.runtime.engine.retentionSweeper.sweep(dryRun: false)
            #expect(again.rules.allSatisfy { $0.matched == 0 })
        }
    }

    @Test("a transient failure of a batch's write is retried: every old session goes, the count is exact")
    func transientRetried() async throws {
        let failOnce = FailOnce()
        try await TodoFixture.make(yaml: Self.yaml, options: .init(batchSize: 3, sweepBatchSize: 3, initialBackoff: .milliseconds(1)), wrap: failOnce.wrap).use { fixture in
            let sessions = fixture.database.collection("sessions")
            try await sessions.insertMany((0..<10).map { n in ["_id": .int32(Int32(n)), "last_seen": Self.ago(n < 8 ? 400 + Int64(n) : 1)] })
            let report = try await fixture.runtime.engine.retentionSweeper.sweep(dryRun: false)
            #expect(failOnce.failures == 1)
            #expect(report.rules.first?.deleted == 8)
            #expect(try await sessions.find([:], options: FindOptions(sort: ["_id": 1])).toArray().compactMap { $0["_id"]?.intValue } == [8, 9])
        }
    }

    @Test("value groups: scalars, ObjectIds, arrays of ObjectIds and arrays of documents, in batches; a count, where given, is exact")
    func valueGroups() async throws {
        try await TodoFixture.make(yaml: Self.yaml).use { fixture in
            let (a, b) = (BSONObjectId("65b000000000000000000001")!, BSONObjectId("65b000000000000000000002")!)
            let things = fixture.database.collection("things")
            try await things.insertMany([
                ["_id": 1, "owner": "x", "oid": .objectId(a), "members": [.objectId(a), .objectId(b)], "authors": [["id": "p"], ["id": "q"]], "kind": "k"],
                ["_id": 2, "owner": "y", "oid": .objectId(b), "members": [.objectId(b)], "authors": [["id": "p"]], "kind": "k"],
                ["_id": 3, "owner": "x", "oid": .objectId(a), "members": [], "kind": "other"],
                ["_id": 4, "owner": .null],
                ["_id": 5, "owner": "x", "oid": .objectId(a), "members": [.objectId(b), .objectId(a)], "kind": "k"],
            ])
            let namespace = Namespace(database: fixture.database.name, collection: "things")
            func groups(_ path: String, _ filter: BSONDocument = [:]) async throws -> [ValueGroup] {
                let seen = LockedList<ValueGroup>()
                try await fixture.runtime.data.valueGroups(namespace, filter: filter, path: path, batchSize: 1) { groups in
                    #expect(groups.count <= 1)
                    seen.append(contentsOf: groups)
                }
                return seen.values
            }
            /// The documents each value is held by, when every group is counted.
            func counts(_ groups: [ValueGroup]) -> [BSON: Int]? {
                guard groups.allSatisfy({ $0.documents != nil }) else { return nil }
                return groups.reduce(into: [:]) { counts, group in group.values.forEach { counts[$0, default: 0] += group.documents! } }
            }
            func check(_ path: String, _ filter: BSONDocument = [:], holders expected: [BSON: Int]) async throws {
                let found = try await groups(path, filter)
                #expect(Set(found.flatMap(\.values)) == Set(expected.keys), "\(path)")
                #expect(found.allSatisfy { Set($0.values).count == $0.values.count }, "each value once in a group")
                if let counts = counts(found) { #expect(counts == expected, "\(path)") }
            }
            try await check("owner", holders: ["x": 3, "y": 1])
            #expect(counts(try await groups("owner")) != nil, "strings are counted on every server")
            try await check("oid", holders: [.objectId(a): 3, .objectId(b): 1])
            try await check("members", holders: [.objectId(a): 2, .objectId(b): 3])
            try await check("authors.id", holders: ["p": 2, "q": 1])
            try await check("owner", ["kind": "other"], holders: ["x": 1])
        }
    }
}

private final class Tally: @unchecked Sendable {
    // @unchecked: guarded by the lock.
    private let lock = NSLock()
    private var total = 0
    func add(_ count: Int) { lock.withLock { total += count } }
    func raise(to count: Int) { lock.withLock { total = max(total, count) } }
    var value: Int { lock.withLock { total } }
}
