import BSON
import Foundation
import LetheCore
import MongoKit

/// Tombstones of erased values (`TombstoneStore`), in `tombstones`: one document per
/// value and request, `_id` made of both, so that recording them again (a finish run
/// again after a crash) inserts nothing twice. Times are epoch milliseconds, as the
/// other records compare them (docs/test-server.md).
extension MongoStateStore {
    /// Keys per `$in`: large, since a restore sweep asks for every distinct value.
    static let tombstoneLookupChunk = 5_000

    public func recordTombstones(_ tombstones: [Tombstone]) async throws {
        guard !tombstones.isEmpty else { return }
        let documents: [BSONDocument] = tombstones.map { tombstone in
            [
                "_id": .string("\(tombstone.key)|\(tombstone.requestId)"),
                "key": .string(tombstone.key),
                "requestId": .string(tombstone.requestId),
                "kind": .string(tombstone.kind.rawValue),
                "erasedAtMilliseconds": .int64(BSONDatetime(tombstone.erasedAt).millisecondsSinceEpoch),
            ]
        }
        do {
            try await self.tombstones.insertMany(documents, ordered: false)
        } catch let error as MongoError where error.code == .duplicateKey && error.writeErrors.allSatisfy({ $0.code == 11000 }) {
            // Recorded by an earlier run of the same finish: unordered, the rest went in.
        }
    }

    public func tombstones(keys: [String]) async throws -> [String: Tombstone] {
        var latest: [String: Tombstone] = [:]
        for start in stride(from: 0, to: keys.count, by: Self.tombstoneLookupChunk) {
            let chunk = keys[start..<min(start + Self.tombstoneLookupChunk, keys.count)]
            let cursor = try await self.tombstones.find(["key": ["$in": .array(chunk.map { .string($0) })]],
                                                        options: FindOptions(projection: ["_id": 0], batchSize: 5_000))
            for try await document in cursor {
                guard let tombstone = Self.tombstone(document) else { continue }
                if let known = latest[tombstone.key], known.erasedAt >= tombstone.erasedAt { continue }
                latest[tombstone.key] = tombstone
            }
        }
        return latest
    }

    public func removeTombstones(erasedBefore date: Date) async throws -> Int {
        try await self.tombstones.deleteMany(Self.erasedBefore(date)).deletedCount
    }

    public func countTombstones(erasedBefore date: Date) async throws -> Int {
        try await self.tombstones.countDocuments(Self.erasedBefore(date))
    }

    static func erasedBefore(_ date: Date) -> BSONDocument {
        ["erasedAtMilliseconds": ["$lt": .int64(BSONDatetime(date).millisecondsSinceEpoch)]]
    }

    static func tombstone(_ document: BSONDocument) -> Tombstone? {
        guard let key = document["key"]?.stringValue, let request = document["requestId"]?.stringValue,
              let kind = document["kind"]?.stringValue, let at = document["erasedAtMilliseconds"]?.int64Value else { return nil }
        return Tombstone(key: key, requestId: request, kind: TombstoneKind(rawValue: kind),
                         erasedAt: BSONDatetime(millisecondsSinceEpoch: at).date)
    }
}
