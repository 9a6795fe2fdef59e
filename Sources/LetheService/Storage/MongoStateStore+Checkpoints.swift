import BSON
import Foundation
import LetheCore
import MongoKit

/// Checkpoints of batches in flight (`CheckpointStore`).
extension MongoStateStore {
    // A checkpoint is stored with `applied` as a sub-document keyed by rule number, so
    // that each rule after the first is one `$set` of its own counts: the whole document
    // (a count per request per rule) grows with every rule, and encoding and sending it
    // again each time cost more than the write. (Keyed rather than `$push`ed: nx-27017
    // turns the documents of an array it pushes to into strings, docs/test-server.md.)
    public func saveCheckpoint(_ checkpoint: BatchCheckpoint) async throws {
        let id = BSON.string(checkpoint.id)
        if checkpoint.applied.count > 1, let newest = checkpoint.applied.last {
            let set = try await batches.updateOne(["_id": id], ["$set": ["applied.\(newest.rule)": .document(try BSONCodable.encode(newest))]])
            if set.matchedCount == 1 { return }
        }
        var header = checkpoint
        header.applied = []  // encoded below, keyed by rule
        var document: BSONDocument = ["_id": id]
        for (key, value) in try BSONCodable.encode(header) where key != "id" && key != "applied" { document.append(key, value) }
        var applied = BSONDocument()
        for rule in checkpoint.applied { applied[String(rule.rule)] = .document(try BSONCodable.encode(rule)) }
        document["applied"] = .document(applied)
        try await batches.bulkWrite([.replaceOne(filter: ["_id": id], replacement: document, upsert: true)])
    }

    public func checkpoints(requestIds: [String]) async throws -> [BatchCheckpoint] {
        guard !requestIds.isEmpty else { return [] }
        return try await batches.find(["requestIds": ["$in": .array(requestIds.map { .string($0) })]]).toArray().map { document in
            var decodable = document
            decodable["id"] = document["_id"]
            // Keyed by rule, as saved above.
            decodable["applied"] = .array(document["applied"]?.documentValue?.values ?? [])
            var checkpoint = try BSONCodable.decode(BatchCheckpoint.self, from: decodable)
            checkpoint.applied.sort { $0.rule < $1.rule }
            return checkpoint
        }
    }

    public func removeCheckpoint(id: String) async throws {
        try await batches.deleteOne(["_id": .string(id)])
    }
}
