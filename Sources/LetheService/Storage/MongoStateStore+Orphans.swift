import BSON
import Foundation
import LetheCore
import MongoKit

/// Orphan candidates, first seen when (`OrphanCandidateStore`).
extension MongoStateStore {
    public func orphanCandidates(subjectPseudonyms: [String]) async throws -> [String: Date] {
        var seen: [String: Date] = [:]
        for chunk in stride(from: 0, to: subjectPseudonyms.count, by: 1_000).map({ subjectPseudonyms[$0..<min($0 + 1_000, subjectPseudonyms.count)] }) {
            let found = try await orphans.find(["subjectPseudonym": ["$in": .array(chunk.map { .string($0) })]]).toArray()
            for document in found {
                guard let pseudonym = document["subjectPseudonym"]?.stringValue,
                      let first = document["firstSeenMilliseconds"]?.int64Value else { continue }
                seen[pseudonym] = BSONDatetime(millisecondsSinceEpoch: first).date
            }
        }
        return seen
    }

    public func recordOrphanCandidates(_ subjectPseudonyms: [String], at date: Date) async throws {
        // Milliseconds, not dates: a date `$set` by an update is not a date on every
        // server (docs/test-server.md), and the grace period compares them.
        let at = BSON.int64(BSONDatetime(date).millisecondsSinceEpoch)
        if !subjectPseudonyms.isEmpty {
            try await orphans.bulkWrite(subjectPseudonyms.map { pseudonym in
                .updateOne(filter: ["subjectPseudonym": .string(pseudonym)],
                           update: ["$setOnInsert": ["firstSeenMilliseconds": at], "$set": ["lastSeenMilliseconds": at]],
                           options: UpdateOptions(upsert: true))
            }, ordered: false)
        }
        try await orphans.deleteMany(["lastSeenMilliseconds": ["$lt": at]])
    }
}
