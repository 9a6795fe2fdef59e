import BSON
import Foundation
@testable import LetheCore
import LetheCoreTestSupport
import Testing

/// The windows of a retention sweep's date field (`DateWindows`, through the in-memory
/// store): every document past the cut-off is selected, no write targets more than the
/// bound, and every window keeps the rule's filter.
@Suite("Date windows of a retention sweep (in memory)")
struct DateWindowsTests {
    static let sessions = Namespace(database: "app", collection: "sessions")
    static let now = Date(timeIntervalSince1970: 1_780_000_000)
    static let cutoff = BSONDatetime(now.addingTimeInterval(-180 * 86_400))
    static let old: BSONDocument = ["last_seen": ["$lt": .datetime(cutoff)]]

    static func ago(_ days: Double) -> BSON { .datetime(BSONDatetime(now.addingTimeInterval(-days * 86_400))) }

    /// Deletes through the windows; returns what each write deleted.
    static func sweep(_ data: InMemoryDataStore, bound: Int, readBatchSize: Int = 1_000,
                      beforeFirstWrite: @escaping @Sendable () async throws -> Void = {}) async throws -> [Int] {
        let matched = try await data.count(sessions, filter: old)
        let writes = Writes()
        try await data.forEachWriteWindow(sessions, filter: old, dateField: "last_seen", before: cutoff, matched: matched,
                                          bound: bound, readBatchSize: readBatchSize) { filters in
            if writes.isEmpty { try await beforeFirstWrite() }
            for filter in filters { writes.add(try await data.deleteMany(sessions, filter: filter)) }
        }
        return writes.value
    }

    /// 60 old documents, crowded into a few days and spread thin elsewhere, and 10 recent ones.
    static func unevenSessions() -> [BSONDocument] {
        var documents: [BSONDocument] = []
        for n in 0..<40 { documents.append(["_id": .int32(Int32(n)), "last_seen": ago(200 + Double(n) / 100)]) }
        for n in 40..<60 { documents.append(["_id": .int32(Int32(n)), "last_seen": ago(300 + Double(n) * 7)]) }
        for n in 60..<70 { documents.append(["_id": .int32(Int32(n)), "last_seen": ago(Double(n - 60))]) }
        return documents
    }

    @Test("every document past the cut-off goes, no write over the bound, the recent ones stay")
    func boundedAndComplete() async throws {
        let data = InMemoryDataStore()
        await data.insert(Self.unevenSessions(), into: Self.sessions)
        let writes = try await Self.sweep(data, bound: 7)
        #expect(writes.reduce(0, +) == 60)
        #expect(writes.allSatisfy { $0 <= 7 }, "\(writes)")
        #expect(writes.count >= 9)
        #expect(await data.all(Self.sessions).compactMap { $0["_id"]?.intValue }.sorted() == Array(60..<70))
    }

    @Test("a document touched after the counts and before the writes stays: every window re-checks the cut-off")
    func touchedStays() async throws {
        let data = InMemoryDataStore()
        await data.insert(Self.unevenSessions(), into: Self.sessions)
        // The newest old session (in the last window, open above) and the oldest one
        // (in the first, open below) are used again.
        let writes = try await Self.sweep(data, bound: 7) {
            _ = try await data.updateMany(Self.sessions, filter: ["_id": ["$in": [0, 59]]], update: ["$set": ["last_seen": Self.ago(0)]])
        }
        #expect(writes.reduce(0, +) == 58)
        #expect(await data.all(Self.sessions).compactMap { $0["_id"]?.intValue }.sorted() == [0, 59] + Array(60..<70))
    }

    @Test("more documents in one second than the bound: read by _id and written in pieces of the bound")
    func crowdedMillisecond() async throws {
        let data = InMemoryDataStore()
        let instant = Self.ago(400)
        await data.insert((0..<10).map { ["_id": .int32(Int32($0)), "last_seen": instant] } + [["_id": 99, "last_seen": Self.ago(1)]],
                          into: Self.sessions)
        let writes = try await Self.sweep(data, bound: 3, readBatchSize: 3)
        #expect(writes.reduce(0, +) == 10)
        #expect(writes.allSatisfy { $0 <= 3 }, "\(writes)")
        #expect(await data.all(Self.sessions).compactMap { $0["_id"]?.intValue } == [99])
    }

    @Test("everything within the bound: one write of the filter itself, no probe and no count")
    func oneWrite() async throws {
        let data = InMemoryDataStore()
        await data.insert(Self.unevenSessions(), into: Self.sessions)
        let counted = await data.commands["count"] ?? 0
        let writes = try await Self.sweep(data, bound: 60)
        #expect(writes == [60])
        #expect(await data.commands["aggregate"] == nil)
        #expect(await data.commands["count"] == counted + 1, "only the sweep's own count")
    }
}

/// What each write of a walk changed, in order.
private final class Writes: @unchecked Sendable {
    // @unchecked: guarded by the lock.
    private let lock = NSLock()
    private var counts: [Int] = []
    func add(_ count: Int) { lock.withLock { counts.append(count) } }
    var value: [Int] { lock.withLock { counts } }
    var isEmpty: Bool { lock.withLock { counts.isEmpty } }
}

/// Dates at the ends of the 64-bit range (a BSON date is any number of milliseconds).
@Suite("Date windows at the ends of the range")
struct DateWindowsExtremeTests {
    @Test("dates at the smallest and largest milliseconds: every one past the cut-off goes, no overflow")
    func extremes() async throws {
        let data = InMemoryDataStore()
        let sessions = DateWindowsTests.sessions
        let dates: [Int64] = [.min, .min + 1, -62_135_596_800_000, 0, 1_000, 1_700_000_000_000]
        await data.insert(dates.enumerated().map { ["_id": .int32(Int32($0.offset)), "last_seen": .datetime(BSONDatetime(millisecondsSinceEpoch: $0.element))] }
                          + [["_id": 99, "last_seen": .datetime(BSONDatetime(millisecondsSinceEpoch: .max))]], into: sessions)
        let writes = try await DateWindowsTests.sweep(data, bound: 2, readBatchSize: 1)
        #expect(writes.reduce(0, +) == dates.count)
        #expect(writes.allSatisfy { $0 <= 2 }, "\(writes)")
        #expect(await data.all(sessions).compactMap { $0["_id"]?.intValue } == [99])
    }
}
