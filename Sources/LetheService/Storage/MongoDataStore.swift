import BSON
import LetheCore
import MongoKit

extension MongoError: TransientFailure {}

/// The application's data, in MongoDB.
public struct MongoDataStore: DataStore {
    public let pool: MongoClientPool

    public init(pool: MongoClientPool) { self.pool = pool }

    private func collection(_ namespace: Namespace) -> MongoCollection {
        pool.database(namespace.database).collection(namespace.collection)
    }

    public func count(_ namespace: Namespace, filter: BSONDocument) async throws -> Int {
        try await collection(namespace).countDocuments(filter)
    }

    public func ids(_ namespace: Namespace, filter: BSONDocument, limit: Int) async throws -> [BSON] {
        try await collection(namespace)
            .find(filter, options: FindOptions(projection: ["_id": 1], limit: limit, batchSize: min(limit, 10_000)))
            .toArray()
            .compactMap { $0["_id"] }
    }

    public func first(_ namespace: Namespace, filter: BSONDocument, sort: BSONDocument, projection: BSONDocument) async throws -> BSONDocument? {
        try await collection(namespace).findOne(filter, options: FindOptions(projection: projection, sort: sort))
    }

    public func deleteMany(_ namespace: Namespace, filter: BSONDocument) async throws -> Int {
        try await collection(namespace).deleteMany(filter).deletedCount
    }

    public func updateMany(_ namespace: Namespace, filter: BSONDocument, update: BSONDocument) async throws -> WriteCounts {
        let result = try await collection(namespace).updateMany(filter, update)
        return WriteCounts(matched: result.matchedCount, modified: result.modifiedCount)
    }

    public func forEachBatch(
        _ namespace: Namespace, filter: BSONDocument, projection: BSONDocument, batchSize: Int,
        _ body: @Sendable ([BSONDocument]) async throws -> Void
    ) async throws {
        try await collection(namespace).find(filter, options: FindOptions(projection: projection, batchSize: batchSize)).forEachBatch(body)
    }

    public func forEachResult(
        _ namespace: Namespace, pipeline: [BSONDocument], batchSize: Int,
        _ body: @Sendable ([BSONDocument]) async throws -> Void
    ) async throws {
        try await collection(namespace).aggregate(pipeline, options: AggregateOptions(batchSize: batchSize)).forEachBatch(body)
    }

    public func bulkUpdate(_ namespace: Namespace, _ updates: [UpdateStatement]) async throws -> WriteCounts {
        let result = try await collection(namespace).bulkWrite(
            updates.map { $0.many ? .updateMany(filter: $0.filter, update: $0.update) : .updateOne(filter: $0.filter, update: $0.update) },
            ordered: false
        )
        return WriteCounts(matched: result.matchedCount, modified: result.modifiedCount)
    }
}
