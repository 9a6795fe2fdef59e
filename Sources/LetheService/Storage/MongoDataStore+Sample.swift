import BSON
import Foundation
import LetheCore
import MongoKit

/// What the coverage report reads (`DataSampler`): collection names and `$sample`.
/// In a file of its own, apart from the erasure queries.
extension MongoDataStore: DataSampler {
    /// Collections only: a view's documents are another collection's, sampled there.
    /// The type is filtered here rather than by the server, which is what every server
    /// answers alike (a server without `type` lists a collection).
    public func collectionNames(database: String) async throws -> [String] {
        try await pool.database(database).listCollections().compactMap { entry in
            guard let name = entry["name"]?.stringValue, !name.hasPrefix("system.") else { return nil }
            let type = entry["type"]?.stringValue ?? "collection"
            return type == "collection" ? name : nil
        }
    }

    /// `$sample` as the only stage: MongoDB returns `size` documents picked at random
    /// (with a random cursor when `size` is under 5 % of a collection of over 100
    /// documents; otherwise it scans and sorts randomly on the server). Lethe receives
    /// and holds at most `size` documents.
    public func sample(_ namespace: Namespace, size: Int) async throws -> [BSONDocument] {
        let collection = pool.database(namespace.database).collection(namespace.collection)
        let cursor = try await collection.aggregate([["$sample": ["size": .int64(Int64(size))]]],
                                                    options: AggregateOptions(batchSize: min(size, 1_000)))
        var documents: [BSONDocument] = []
        for try await document in cursor {
            documents.append(document)
            if documents.count >= size { break }
        }
        return documents
    }
}
