import BSON
import Foundation
import LetheCore

/// The application's data in memory, with MongoDB's matching semantics
/// (`QueryMatcher`): the erasure pipeline runs against it in unit tests, without a
/// server. It counts the commands it serves, and can fail a chosen write.
public actor InMemoryDataStore: DataStore, DataSampler {
    private var collections: [Namespace: [BSONDocument]] = [:]
    /// Commands served, by name (`count`, `find`, `delete`, `update`, `aggregate`).
    public private(set) var commands: [String: Int] = [:]
    /// Streamed reads (`forEachBatch`) per collection.
    public private(set) var streamedReads: [Namespace: Int] = [:]
    /// Called before each write; throw from it to fail that write.
    private var beforeWrite: @Sendable () throws -> Void = {}
    /// Server faults to imitate, so that a test shows a check does not pass because
    /// the server answered wrongly.
    public struct Faults: Sendable {
        /// `$in` does not match inside arrays (as the test server with ObjectIds).
        public var inMissesArrayElements = false
        /// `_id`s a verification read reports although no member's id is in them.
        public var phantomLeftovers: [BSON] = []
        /// Accepts `arrayFilters` and changes nothing, as nx-27017 does.
        public var ignoresArrayFilters = false
        public init() {}
    }
    private var faults = Faults()

    public init() {}

    public func insert(_ documents: [BSONDocument], into namespace: Namespace) {
        collections[namespace, default: []] += documents
    }

    public func all(_ namespace: Namespace) -> [BSONDocument] { collections[namespace] ?? [] }

    // MARK: DataSampler (the first documents, not random: tests want to know which)

    public func collectionNames(database: String) async throws -> [String] {
        served("listCollections")
        return collections.keys.filter { $0.database == database }.map(\.collection).sorted()
    }

    public func sample(_ namespace: Namespace, size: Int) async throws -> [BSONDocument] {
        served("aggregate")
        return Array((collections[namespace] ?? []).prefix(size))
    }

    /// Every collection and its documents: a copy, as `mongodump` takes one.
    public func snapshot() -> [Namespace: [BSONDocument]] { collections }

    /// Puts a copy back, as `mongorestore --drop` does: each collection of the copy
    /// replaced whole; collections the copy does not hold are left as they are.
    public func restore(_ copy: [Namespace: [BSONDocument]]) {
        for (namespace, documents) in copy { collections[namespace] = documents }
    }

    public func failWrites(_ hook: @escaping @Sendable () throws -> Void) { beforeWrite = hook }

    public func imitate(_ faults: Faults) { self.faults = faults }

    private func served(_ command: String) { commands[command, default: 0] += 1 }

    private func matching(_ namespace: Namespace, _ filter: BSONDocument) -> [BSONDocument] {
        (collections[namespace] ?? []).filter { QueryMatcher.matches($0, filter, inMissesArrayElements: faults.inMissesArrayElements) }
    }

    private static func project(_ document: BSONDocument, _ projection: BSONDocument) -> BSONDocument {
        guard !projection.isEmpty else { return document }
        var projected = BSONDocument()
        for (key, _) in projection { if let value = document[key] { projected[key] = value } }
        return projected
    }

    public func count(_ namespace: Namespace, filter: BSONDocument) async throws -> Int {
        served("count")
        return matching(namespace, filter).count
    }

    public func ids(_ namespace: Namespace, filter: BSONDocument, limit: Int) async throws -> [BSON] {
        served("find")
        return Array(matching(namespace, filter).compactMap { $0["_id"] }.prefix(limit))
    }

    /// By equality per value, not `$in`: as faithful as a query can be.
    public func idsHolding(_ namespace: Namespace, values: [BSON], atAnyOf paths: [String], filter: BSONDocument, limit: Int) async throws -> [BSON] {
        served("find")
        let holding = (collections[namespace] ?? []).filter { document in
            QueryMatcher.matches(document, filter)
                && paths.contains { path in values.contains { QueryMatcher.equals(QueryMatcher.rawValues(document, path), $0) } }
        }
        return Array((holding.compactMap { $0["_id"] } + faults.phantomLeftovers).prefix(limit))
    }

    public func first(_ namespace: Namespace, filter: BSONDocument, sort: BSONDocument, projection: BSONDocument) async throws -> BSONDocument? {
        served("find")
        guard let (field, direction) = sort.first(where: { _ in true }).map({ ($0.key, $0.value.intValue ?? 1) }) else {
            return matching(namespace, filter).first.map { Self.project($0, projection) }
        }
        let sorted = matching(namespace, filter).sorted { a, b in
            let order = QueryMatcher.compare(a.value(atPath: field) ?? .null, b.value(atPath: field) ?? .null) ?? 0
            return direction < 0 ? order > 0 : order < 0
        }
        return sorted.first.map { Self.project($0, projection) }
    }

    public func deleteMany(_ namespace: Namespace, filter: BSONDocument) async throws -> Int {
        served("delete")
        try beforeWrite()
        let before = collections[namespace]?.count ?? 0
        collections[namespace] = (collections[namespace] ?? []).filter { !QueryMatcher.matches($0, filter, inMissesArrayElements: faults.inMissesArrayElements) }
        return before - (collections[namespace]?.count ?? 0)
    }

    public func updateMany(_ namespace: Namespace, filter: BSONDocument, update: BSONDocument) async throws -> WriteCounts {
        served("update")
        try beforeWrite()
        return try checkedWrite(namespace, filter: filter, update: update, many: true, arrayFilters: [])
    }

    public func updateMany(_ namespace: Namespace, filter: BSONDocument, update: BSONDocument, arrayFilters: [BSONDocument]) async throws -> WriteCounts {
        served("update")
        try beforeWrite()
        return try checkedWrite(namespace, filter: filter, update: update, many: true, arrayFilters: arrayFilters)
    }

    private func checkedWrite(_ namespace: Namespace, filter: BSONDocument, update: BSONDocument, many: Bool,
                              arrayFilters: [BSONDocument]) throws -> WriteCounts {
        if faults.ignoresArrayFilters, !arrayFilters.isEmpty {
            return WriteCounts(matched: matching(namespace, filter).count, modified: 0)
        }
        // As MongoDB: a write fails whole when one document cannot take the update.
        for document in collections[namespace] ?? [] where QueryMatcher.matches(document, filter, inMissesArrayElements: faults.inMissesArrayElements) {
            try QueryMatcher.checkTraversal(update, in: document)
        }
        return apply(namespace, filter: filter, update: update, many: many, arrayFilters: arrayFilters)
    }

    private func apply(_ namespace: Namespace, filter: BSONDocument, update: BSONDocument, many: Bool,
                       arrayFilters: [BSONDocument] = []) -> WriteCounts {
        var counts = WriteCounts(matched: 0, modified: 0)
        var documents = collections[namespace] ?? []
        for index in documents.indices where QueryMatcher.matches(documents[index], filter, inMissesArrayElements: faults.inMissesArrayElements) {
            counts.matched += 1
            if let changed = QueryMatcher.apply(update, to: documents[index], arrayFilters: arrayFilters) {
                documents[index] = changed
                counts.modified += 1
            }
            if !many { break }
        }
        collections[namespace] = documents
        return counts
    }

    public func forEachBatch(_ namespace: Namespace, filter: BSONDocument, projection: BSONDocument, batchSize: Int,
                             _ body: @Sendable ([BSONDocument]) async throws -> Void) async throws {
        served("find")
        streamedReads[namespace, default: 0] += 1
        let found = matching(namespace, filter).map { Self.project($0, projection) }
        for start in stride(from: 0, to: found.count, by: max(batchSize, 1)) {
            try await body(Array(found[start..<min(start + max(batchSize, 1), found.count)]))
        }
    }

    public func groupCounts(_ namespace: Namespace, filter: BSONDocument, by path: String, batchSize: Int) async throws -> [(key: BSON, documents: Int)]? {
        served("aggregate")
        var groups: [BSON: Int] = [:]
        for document in matching(namespace, filter) { groups[document.value(atPath: path) ?? .null, default: 0] += 1 }
        return groups.map { (key: $0.key, documents: $0.value) }
    }

    /// The walk the MongoDB store takes (`DateWindows`), with the earliest date and the
    /// counts from the documents held here, so that the windows, their bound and the
    /// re-check of the filter are what unit tests exercise.
    public nonisolated func forEachWriteWindow(
        _ namespace: Namespace, filter: BSONDocument, dateField: String, before cutoff: BSONDatetime,
        matched: Int, bound: Int, readBatchSize: Int,
        _ body: @Sendable ([BSONDocument]) async throws -> Void
    ) async throws {
        try await DateWindows.walk(
            filter: filter, field: dateField, before: cutoff, matched: matched, bound: bound,
            earliest: { await self.earliestDate(namespace, filter: filter, at: dateField) },
            count: { try await self.count(namespace, filter: $0) },
            split: { window in
                try await DateWindows.writeById(window, batchSize: readBatchSize, ids: { try await self.ids(namespace, filter: $0, limit: $1) },
                                                idFilters: { self.idFilters($0) }) { try await body($0) }
            },
            { try await body($0) }
        )
    }

    private func earliestDate(_ namespace: Namespace, filter: BSONDocument, at path: String) -> BSONDatetime? {
        served("aggregate")
        return matching(namespace, filter).flatMap { $0.equalityValues(atPath: path).compactMap(\.datetimeValue) }.min()
    }

    /// Documents grouped by the values they hold at `path`, counted, as MongoDB's
    /// `$group` on a top-level field does.
    public func valueGroups(_ namespace: Namespace, filter: BSONDocument, path: String, batchSize: Int,
                            _ body: @Sendable ([ValueGroup]) async throws -> Void) async throws {
        served("aggregate")
        var order: [[BSON]] = []
        var documents: [[BSON]: Int] = [:]
        for document in matching(namespace, filter) {
            var distinct = Set<BSON>()
            let values = document.equalityValues(atPath: path).filter { distinct.insert($0).inserted }
            guard !values.isEmpty else { continue }
            if documents[values] == nil { order.append(values) }
            documents[values, default: 0] += 1
        }
        for chunk in order.chunked(into: max(batchSize, 1)) {
            try await body(chunk.map { ValueGroup(values: $0, documents: documents[$0]) })
        }
    }

    public func documents(_ namespace: Namespace, ids: [BSON], projection: BSONDocument) async throws -> [BSONDocument] {
        served("find")
        return (collections[namespace] ?? []).filter { QueryMatcher.matches($0, ["_id": ["$in": .array(ids)]]) }.map { Self.project($0, projection) }
    }

    public nonisolated func idFilters(_ ids: [BSON]) -> [BSONDocument] { [["_id": ["$in": .array(ids)]]] }

    public func bulkUpdate(_ namespace: Namespace, _ updates: [UpdateStatement]) async throws -> WriteCounts {
        served("update")
        try beforeWrite()
        var total = WriteCounts(matched: 0, modified: 0)
        for update in updates {
            let counts = apply(namespace, filter: update.filter, update: update.update, many: update.many)
            total.matched += counts.matched
            total.modified += counts.modified
        }
        return total
    }
}
