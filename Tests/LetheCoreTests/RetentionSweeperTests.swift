import BSON
import Foundation
@testable import LetheCore
import LetheCoreTestSupport
import Testing

/// The retention sweep in bounded batches (in memory): what is past its period goes,
/// whatever its `_id`'s type; what is not, or was touched since it was read, stays.
@Suite("Retention sweep (in memory)")
struct RetentionSweeperTests {
    static let yaml = """
        version: 1
        name: app
        database: app
        rules:
          - collection: items
            match: owner_id
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
    static let sessions = Namespace(database: "app", collection: "sessions")
    static let events = Namespace(database: "app", collection: "events")
    static let now = Date(timeIntervalSince1970: 1_780_000_000)

    static func ago(_ days: Double) -> BSON { .datetime(BSONDatetime(now.addingTimeInterval(-days * 86_400))) }

    static func engine(_ data: any DataStore, state: InMemoryStateStore = InMemoryStateStore(), batchSize: Int = 3) throws -> ErasureEngine {
        let loaded = PolicyLoader.load(yaml: yaml, file: "app.yaml", options: .init(hashKeyConfigured: false))
        let policy = try #require(loaded.policies.first, "\(loaded.diagnostics)")
        return ErasureEngine(data: data, state: state, policies: [policy], anonymizer: nil,
                             options: .init(batchSize: batchSize, sweepBatchSize: batchSize, initialBackoff: .milliseconds(1)), now: { now })
    }

    /// Sessions with `_id`s of four types, old and recent interleaved in `_id` order.
    static func mixedSessions() -> [BSONDocument] {
        var documents: [BSONDocument] = []
        for n in 0..<8 {
            let old = n.isMultiple(of: 2)
            // Distinct dates: a batch is a range of dates, and equal dates share one.
            func age(_ k: Int) -> Double { old ? 400 + Double(4 * n + k) : 10 + Double(4 * n + k) }
            documents.append(["_id": .int32(Int32(n)), "last_seen": ago(age(0))])
            documents.append(["_id": .double(Double(n) + 0.5), "last_seen": ago(age(1))])
            documents.append(["_id": .string("s\(n)"), "last_seen": ago(age(2))])
            documents.append(["_id": .objectId(BSONObjectId(String(format: "65a0000000000000000000%02x", n))!), "last_seen": ago(age(3))])
        }
        return documents
    }

    @Test("deletes only what is past its period, in batches, across int, double, string and ObjectId ids")
    func deletesAcrossTypes() async throws {
        let data = InMemoryDataStore()
        let seeded = Self.mixedSessions()
        await data.insert(seeded, into: Self.sessions)
        let report = try await Self.engine(data).retentionSweeper.sweep(dryRun: false)
        #expect(report.rules.first?.matched == 16)
        #expect(report.rules.first?.deleted == 16)
        let left = await data.all(Self.sessions)
        #expect(Set(left.compactMap { $0["_id"] }) == Set(seeded.filter { ($0["last_seen"]?.datetimeValue?.millisecondsSinceEpoch ?? 0) > BSONDatetime(Self.now.addingTimeInterval(-180 * 86_400)).millisecondsSinceEpoch }.compactMap { $0["_id"] }))
        #expect((await data.commands)["delete"] ?? 0 > 1, "more than one bounded write")
    }

    @Test("anonymizes in batches: `ip` unset where past the period, kept where not; a second sweep finds nothing")
    func anonymizesInBatches() async throws {
        let data = InMemoryDataStore()
        await data.insert((0..<10).map { n in ["_id": .int32(Int32(n)), "at": Self.ago(n < 7 ? 100 + Double(n) : 5), "ip": .string("10.0.0.\(n)")] }, into: Self.events)
        let engine = try Self.engine(data)
        let report = try await engine.retentionSweeper.sweep(dryRun: false)
        #expect(report.rules.last?.modified == 7)
        let events = await data.all(Self.events)
        #expect(events.filter { $0["ip"] == nil }.compactMap { $0["_id"]?.intValue }.sorted() == Array(0..<7))
        #expect(events.filter { $0["ip"] != nil }.count == 3)
        let again = try await engine.retentionSweeper.sweep(dryRun: false)
        #expect(again.rules.allSatisfy { $0.matched == 0 && $0.modified == 0 && $0.deleted == 0 })
    }

    @Test("a document touched between the read and the write stays; a recent one between two old ids stays too")
    func touchedSurvives() async throws {
        let inner = InMemoryDataStore()
        await inner.insert([
            ["_id": 1, "last_seen": Self.ago(400)], ["_id": 2, "last_seen": Self.ago(400)], ["_id": 3, "last_seen": Self.ago(10)],
            ["_id": 4, "last_seen": Self.ago(400)], ["_id": 5, "last_seen": Self.ago(400)],
        ], into: Self.sessions)
        // After the ids are read and before the first write, the user with session 2 signs in again.
        let data = TouchingDataStore(inner: inner) {
            _ = try await inner.updateMany(Self.sessions, filter: ["_id": 2], update: ["$set": ["last_seen": Self.ago(0)]])
        }
        let report = try await Self.engine(data, batchSize: 10).retentionSweeper.sweep(dryRun: false)
        #expect(report.rules.first?.deleted == 3)
        #expect(await inner.all(Self.sessions).compactMap { $0["_id"]?.intValue } == [2, 3])
    }

    @Test("a sweep stopped by a failing write leaves a consistent state; the next one finishes without writing anything twice")
    func resumes() async throws {
        let data = InMemoryDataStore()
        await data.insert((0..<10).map { n in ["_id": .int32(Int32(n)), "last_seen": Self.ago(n < 8 ? 400 + Double(n) : 1)] }, into: Self.sessions)
        let writes = CallCounter()
        await data.failWrites { if writes.next() == 1 { throw Broken() } }  // the second batch's write
        await #expect(throws: Broken.self) { try await Self.engine(data).retentionSweeper.sweep(dryRun: false) }
        let left = await data.all(Self.sessions).count
        #expect((7...9).contains(left), "the first window (at most the bound of three) went, the rest is untouched")
        await data.failWrites {}
        let report = try await Self.engine(data).retentionSweeper.sweep(dryRun: false)
        #expect(report.rules.first?.matched == left - 2)
        #expect(report.rules.first?.deleted == left - 2)
        #expect(await data.all(Self.sessions).compactMap { $0["_id"]?.intValue } == [8, 9])
    }

    @Test("a transient failure mid-sweep is retried from where it stood: every old document goes, the count is exact")
    func retriesTransient() async throws {
        let data = InMemoryDataStore()
        await data.insert((0..<10).map { n in ["_id": .int32(Int32(n)), "last_seen": Self.ago(n < 8 ? 400 + Double(n) : 1)] }, into: Self.sessions)
        let writes = CallCounter()
        await data.failWrites { if writes.next() == 2 { throw Flaky() } }
        let report = try await Self.engine(data).retentionSweeper.sweep(dryRun: false)
        #expect(report.rules.first?.deleted == 8)
        #expect(await data.all(Self.sessions).compactMap { $0["_id"]?.intValue } == [8, 9])
    }

    @Test("a dry run counts and writes nothing")
    func dryRun() async throws {
        let data = InMemoryDataStore()
        await data.insert(Self.mixedSessions(), into: Self.sessions)
        let report = try await Self.engine(data).retentionSweeper.sweep(dryRun: true)
        #expect(report.rules.first?.matched == 16)
        #expect(await data.all(Self.sessions).count == 32)
        #expect((await data.commands)["delete"] == nil)
    }

    struct Broken: Error {}
    struct Flaky: TransientFailure { var isTransient: Bool { true } }
}

/// Counts calls across the store's synchronous write hook.
final class CallCounter: @unchecked Sendable {
    // @unchecked: guarded by the lock.
    private let lock = NSLock()
    private var value = 0
    /// The number of this call, from 0.
    func next() -> Int { lock.withLock { defer { value += 1 }; return value } }
}

/// An in-memory store that runs `touch` once, after the documents to write are counted
/// (or read) and before the first write: a user active again between the two.
struct TouchingDataStore: DataStore {
    let inner: InMemoryDataStore
    let touch: @Sendable () async throws -> Void

    func forEachWriteWindow(_ namespace: Namespace, filter: BSONDocument, dateField: String, before cutoff: BSONDatetime,
                            matched: Int, bound: Int, readBatchSize: Int,
                            _ body: @Sendable ([BSONDocument]) async throws -> Void) async throws {
        let first = CallCounter()
        try await inner.forEachWriteWindow(namespace, filter: filter, dateField: dateField, before: cutoff, matched: matched,
                                           bound: bound, readBatchSize: readBatchSize) { filters in
            if first.next() == 0 { try await touch() }
            try await body(filters)
        }
    }

    func idsHolding(_ namespace: Namespace, values: [BSON], atAnyOf paths: [String], filter: BSONDocument, limit: Int) async throws -> [BSON] {
        try await inner.idsHolding(namespace, values: values, atAnyOf: paths, filter: filter, limit: limit)
    }
    func count(_ namespace: Namespace, filter: BSONDocument) async throws -> Int { try await inner.count(namespace, filter: filter) }
    func ids(_ namespace: Namespace, filter: BSONDocument, limit: Int) async throws -> [BSON] { try await inner.ids(namespace, filter: filter, limit: limit) }
    func first(_ namespace: Namespace, filter: BSONDocument, sort: BSONDocument, projection: BSONDocument) async throws -> BSONDocument? {
        try await inner.first(namespace, filter: filter, sort: sort, projection: projection)
    }
    func deleteMany(_ namespace: Namespace, filter: BSONDocument) async throws -> Int { try await inner.deleteMany(namespace, filter: filter) }
    func updateMany(_ namespace: Namespace, filter: BSONDocument, update: BSONDocument) async throws -> WriteCounts {
        try await inner.updateMany(namespace, filter: filter, update: update)
    }
    func updateMany(_ namespace: Namespace, filter: BSONDocument, update: BSONDocument, arrayFilters: [BSONDocument]) async throws -> WriteCounts {
        try await inner.updateMany(namespace, filter: filter, update: update, arrayFilters: arrayFilters)
    }
    func forEachBatch(_ namespace: Namespace, filter: BSONDocument, projection: BSONDocument, batchSize: Int,
                      _ body: @Sendable ([BSONDocument]) async throws -> Void) async throws {
        try await inner.forEachBatch(namespace, filter: filter, projection: projection, batchSize: batchSize, body)
    }
    func valueGroups(_ namespace: Namespace, filter: BSONDocument, path: String, batchSize: Int,
                     _ body: @Sendable ([ValueGroup]) async throws -> Void) async throws {
        try await inner.valueGroups(namespace, filter: filter, path: path, batchSize: batchSize, body)
    }
    func groupCounts(_ namespace: Namespace, filter: BSONDocument, by path: String, batchSize: Int) async throws -> [(key: BSON, documents: Int)]? {
        try await inner.groupCounts(namespace, filter: filter, by: path, batchSize: batchSize)
    }
    func documents(_ namespace: Namespace, ids: [BSON], projection: BSONDocument) async throws -> [BSONDocument] {
        try await inner.documents(namespace, ids: ids, projection: projection)
    }
    func idFilters(_ ids: [BSON]) -> [BSONDocument] { inner.idFilters(ids) }
    func bulkUpdate(_ namespace: Namespace, _ updates: [UpdateStatement]) async throws -> WriteCounts { try await inner.bulkUpdate(namespace, updates) }
}
