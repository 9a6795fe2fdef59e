import BSON
import Foundation
import LetheCore
import Logging
import MongoKit

extension MongoError: TransientFailure {}

/// The application's data, in MongoDB.
public struct MongoDataStore: DataStore {
    public let pool: MongoClientPool
    /// Whether the server's `$in` matches values inside arrays as MongoDB does.
    private let arrayMatching: ArrayMatching

    /// A store that takes the server's `$in` to miss values inside arrays, unless
    /// `inMatchesArrays` says otherwise: `idsHolding` then asks again where it must.
    public init(pool: MongoClientPool, inMatchesArrays: Bool = false) {
        self.pool = pool
        self.arrayMatching = ArrayMatching(known: inMatchesArrays)
    }

    /// A store that asks the server once, when verification first needs it, whether its
    /// `$in` matches inside arrays (`ArrayMatchProbe`, a scratch document in `stateDatabase`).
    public init(pool: MongoClientPool, probingArraysIn stateDatabase: String, logger: Logger = Logger(label: "lethe.data")) {
        self.pool = pool
        self.arrayMatching = ArrayMatching(probingIn: stateDatabase, logger: logger)
    }

    /// Whether the server's `$in` matches values inside arrays (probed on the first call).
    public func inMatchesArrays() async -> Bool { await arrayMatching.inMatchesArrays(pool: pool) }

    /// Every read and write of the application's data compares strings as bytes
    /// (`comparingBytes`): ids are bytes to the database, and a collection created with a
    /// case-insensitive default collation would otherwise widen `{owner_id: "abc"}` to
    /// "ABC"'s documents.
    private func collection(_ namespace: Namespace) -> MongoCollection {
        pool.database(namespace.database).collection(namespace.collection).comparingBytes()
    }

    /// One `$in` for the values, as MongoDB matches them everywhere. Unless the server
    /// showed its `$in` matches inside arrays (`inMatchesArrays()`), then one equality
    /// per value under an `$or` as well, for ObjectIds and binaries, and for every value
    /// on a path that runs through an array of documents in this collection. The second
    /// query is redundant on MongoDB, where `$in` and equality match the same documents;
    /// the test server's `$in` sees neither ObjectIds inside arrays nor values inside
    /// arrays of documents, while its equality under `$or` does (docs/test-server.md).
    /// It is chunked, and asked only where needed, because that server evaluates an
    /// `$or` clause by clause on every document (1,000 clauses over 10,000 documents:
    /// 12 s; 5,000 ObjectIds of a lookup over 10,000 documents: 100 s): ObjectIds and
    /// binaries only when some document holds an array at the path, and every value
    /// only when the path runs through an array of documents; each is one `findOne`
    /// per prefix (`$type: "array"`).
    public func idsHolding(_ namespace: Namespace, values: [BSON], atAnyOf paths: [String], filter: BSONDocument, limit: Int) async throws -> [BSON] {
        guard !values.isEmpty, !paths.isEmpty else { return [] }
        // The equalities always go under `$or`, even one: the test server's plain
        // equality misses an ObjectId inside an array of documents (docs/test-server.md).
        func holding(_ clauses: [BSONDocument], alwaysOr: Bool = false) -> BSONDocument {
            let match: BSONDocument = clauses.count == 1 && !alwaysOr ? clauses[0] : ["$or": .array(clauses.map { .document($0) })]
            // The fields side by side where they can be (`allOf`): the test server serves
            // `{owner_id: {$in}, shared: true}` in SQL and the same under an explicit
            // `$and` row by row (0.07 s against 0.22 s over 10,000 documents); on MongoDB
            // the two are one query.
            return filter.isEmpty ? match : RuleStatement.allOf([match, filter])
        }
        var found = try await ids(namespace, filter: holding(paths.map { [$0: ["$in": .array(values)]] }), limit: limit)
        guard await !inMatchesArrays() else { return found }
        var seen = Set(found)
        let typed = values.filter { $0.objectIdValue != nil || { if case .binary = $0 { true } else { false } }($0) }
        for path in paths where found.count < limit {
            let asked: [BSON]
            if try await runsThroughArrayOfDocuments(namespace, path) {
                asked = values
            } else if !typed.isEmpty, try await holdsArray(namespace, at: path) {
                asked = typed
            } else {
                asked = []
            }
            for chunk in asked.chunked(into: 100) where found.count < limit {
                for id in try await ids(namespace, filter: holding(chunk.map { [path: $0] as BSONDocument }, alwaysOr: true), limit: limit)
                where seen.insert(id).inserted { found.append(id) }
            }
        }
        return Array(found.prefix(limit))
    }

    /// Whether some document holds an array at `path` itself.
    private func holdsArray(_ namespace: Namespace, at path: String) async throws -> Bool {
        try await collection(namespace).findOne([path: ["$type": "array"]], options: FindOptions(projection: ["_id": 1])) != nil
    }

    /// Whether some document holds an array at a proper prefix of `path`.
    private func runsThroughArrayOfDocuments(_ namespace: Namespace, _ path: String) async throws -> Bool {
        let components = path.split(separator: ".").map(String.init)
        for split in 1..<max(components.count, 1) {
            let prefix = components[..<split].joined(separator: ".")
            if try await holdsArray(namespace, at: prefix) { return true }
        }
        return false
    }

    /// The `count` command with the filter as its query: exact on a replica set, and
    /// on a sharded cluster since MongoDB 4.0 whenever a query is given (SERVER-3645);
    /// it is served by the filter's index like `find`. Without a filter, `count`
    /// reads the collection's metadata, which a sharded cluster may get wrong, so that
    /// one goes as `countDocuments` (an aggregation's `$group`). The test server runs
    /// `countDocuments` in Python (0.9 s for 10,000 of 20,000 documents, against
    /// 0.03 s for `count`), and refuses a `count` whose query holds an ObjectId
    /// (error 17), so those go as `countDocuments` too (docs/test-server.md).
    public func count(_ namespace: Namespace, filter: BSONDocument) async throws -> Int {
        let collection = collection(namespace)
        if filter.isEmpty || Self.holdsObjectId(.document(filter)) { return try await collection.countDocuments(filter) }
        var command: BSONDocument = ["count": .string(namespace.collection), "query": .document(filter)]
        // The command goes around the handle: it states the handle's collation itself.
        if let collation = collection.collation { command["collation"] = .document(collation) }
        let reply = try await pool.database(namespace.database).runCommand(command, kind: .read)
        guard let counted = reply["n"]?.intValue else {
            throw MongoError(code: .driverError, operation: "count", namespace: namespace.description, message: "the server's count reply has no number n")
        }
        return counted
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

    public func updateMany(_ namespace: Namespace, filter: BSONDocument, update: BSONDocument, arrayFilters: [BSONDocument]) async throws -> WriteCounts {
        let options = UpdateOptions(arrayFilters: arrayFilters.isEmpty ? nil : arrayFilters)
        let result = try await collection(namespace).updateMany(filter, update, options: options)
        return WriteCounts(matched: result.matchedCount, modified: result.modifiedCount)
    }

    public func forEachBatch(
        _ namespace: Namespace, filter: BSONDocument, projection: BSONDocument, batchSize: Int,
        _ body: @Sendable ([BSONDocument]) async throws -> Void
    ) async throws {
        try await collection(namespace).find(filter, options: FindOptions(projection: projection, batchSize: batchSize)).forEachBatch(body)
    }

    /// A `$group` on the path. Not asked when the filter holds an ObjectId: on the
    /// test server an aggregation's `$match` on ObjectIds finds nothing
    /// (docs/test-server.md), where MongoDB matches them as a query does. Nil then,
    /// and the caller reads the documents instead.
    public func groupCounts(_ namespace: Namespace, filter: BSONDocument, by path: String, batchSize: Int) async throws -> [(key: BSON, documents: Int)]? {
        guard !Self.holdsObjectId(.document(filter)) else { return nil }
        let pipeline: [BSONDocument] = [["$match": .document(filter)], ["$group": ["_id": .string("$" + path), "n": ["$sum": 1]]]]
        let groups = GroupCollector()
        try await collection(namespace).aggregate(pipeline, options: AggregateOptions(batchSize: batchSize)).forEachBatch { results in
            groups.add(results.compactMap { group in group["n"]?.intValue.map { (key: group["_id"] ?? .null, documents: $0) } })
        }
        return groups.value
    }

    /// Windows of the date field (`DateWindows`), counted by the `count` command and
    /// written by the caller; the earliest date by one sorted aggregation.
    ///
    /// MongoDB, with the date field indexed: the earliest date is the `$match` and
    /// `$sort` served by that index and coalesced with the `$limit` (one key examined,
    /// "Aggregation Pipeline Optimization"); each count is a scan of the window's index
    /// range (only the keys when the filter names the date field alone: "the query
    /// only contains conditions on the keys of the index, and the predicates access a
    /// single contiguous range"), and each write an index range scan of the same keys.
    /// Nothing reads the documents, and a write never targets more than `bound`
    /// counted documents. The test server runs any query on a date in Python over the
    /// whole collection: about 0.2 s per command at 200,000 documents whatever the
    /// window, 0.65 s for the earliest date (1.6 s by a sorted `findOne`), 3.4 s to
    /// read 100,000 dates, 55 µs per document written; so the fewest commands win
    /// there, and `matched <= bound` is one write (docs/test-server.md).
    public func forEachWriteWindow(
        _ namespace: Namespace, filter: BSONDocument, dateField: String, before cutoff: BSONDatetime,
        matched: Int, bound: Int, readBatchSize: Int,
        _ body: @Sendable (_ filters: [BSONDocument]) async throws -> Void
    ) async throws {
        let top = String(dateField.prefix { $0 != "." })
        try await DateWindows.walk(
            filter: filter, field: dateField, before: cutoff, matched: matched, bound: bound,
            earliest: {
                let projection: BSONDocument = [top: 1, "_id": 0]
                var earliest: BSONDocument?
                // The test server's aggregation matches no ObjectId (countByObjectIdReturnsZero).
                if !Self.holdsObjectId(.document(filter)) {
                    let pipeline: [BSONDocument] = [["$match": .document(filter)], ["$sort": [dateField: 1]], ["$limit": 1], ["$project": .document(projection)]]
                    earliest = try await collection(namespace).aggregate(pipeline, options: AggregateOptions(batchSize: 1)).toArray().first
                }
                // None: nothing matches, or a server whose aggregation missed it; `find` decides.
                if earliest == nil {
                    earliest = try await first(namespace, filter: filter, sort: [dateField: 1], projection: projection)
                }
                return earliest?.equalityValues(atPath: dateField).compactMap(\.datetimeValue).min()
            },
            count: { try await count(namespace, filter: $0) },
            split: { window in
                try await DateWindows.writeById(window, batchSize: readBatchSize, ids: { try await ids(namespace, filter: $0, limit: $1) },
                                                idFilters: { idFilters($0) }) { try await body($0) }
            },
            { try await body($0) }
        )
    }

    /// For a top-level field, one aggregation: `$match`, and `$group` on the field
    /// with the group's documents counted (`$sum: 1`) and its distinct stored values
    /// (`$addToSet` of the field); the client flattens arrays (their elements, as a
    /// query's equality sees them). Each group is checked before its values are handed
    /// over: its key must be the one value it holds (`GroupedValueCheck`). On MongoDB
    /// the key is the stored value itself, so the check always holds; the `$match` is
    /// served by an index of the filter's fields and the `$group` holds one entry per
    /// distinct value (`allowDiskUse` lets it spill). The test server's `$group` turns
    /// ObjectIds, arrays and documents into strings of JSON text while its `$addToSet`
    /// returns the stored values (probed): a string key whose documents hold ObjectIds
    /// would make an existing user look orphaned, and an orphan sweep deletes. At the
    /// first group that fails the check, everything goes by the faithful path below,
    /// without document counts (values already handed over come again).
    /// The check costs the test server nothing measurable, where the aggregation
    /// `$type` it replaced was evaluated per document (0.42 s of 0.52 s at 200,000).
    ///
    /// The faithful path, for dotted paths and after a failed check: `$match`, an
    /// `$unwind` of each step of the path (so arrays and arrays of documents on the way
    /// give their elements, as a query's match does), and a `$group` on the value.
    /// Where the test server's aggregation answers wrongly there too, the documents are
    /// read instead (the path's top-level field only), a group per document: when the
    /// filter holds an ObjectId (its `$match` finds none), and when a document holds an
    /// array on the path (its `$unwind` and `$group` turn ObjectIds inside arrays into
    /// strings). Whether one does is one `findOne` per step.
    public func valueGroups(
        _ namespace: Namespace, filter: BSONDocument, path: String, batchSize: Int,
        _ body: @Sendable ([ValueGroup]) async throws -> Void
    ) async throws {
        let steps = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let batch = max(batchSize, 1)
        let seen = DistinctCollector()
        var counted = true
        if steps.count == 1, !Self.holdsObjectId(.document(filter)) {
            // Always a `$match`, even empty: without one, the test server groups values
            // reached through an array of documents as null.
            let pipeline: [BSONDocument] = [
                ["$match": .document(filter)],
                ["$group": ["_id": .string("$" + path), "documents": ["$sum": 1], "values": ["$addToSet": .string("$" + path)]]],
            ]
            do {
                try await collection(namespace).aggregate(pipeline, options: AggregateOptions(batchSize: batch, allowDiskUse: true))
                    .forEachBatch { results in
                        var groups: [ValueGroup] = []
                        for result in results {
                            let key = result["_id"] ?? .null
                            guard case .array(let values)? = result["values"], let documents = result["documents"]?.intValue,
                                  GroupedValueCheck.isFaithful(key, values: values) else { throw UnfaithfulGroup() }
                            let matched = GroupedValueCheck.queryValues(of: key)
                            if !matched.isEmpty { groups.append(ValueGroup(values: matched, documents: documents)) }
                        }
                        // Chunked here as well: a server may send more than `batchSize` per reply.
                        for chunk in groups.chunked(into: batch) { try await body(chunk) }
                    }
                return
            } catch is UnfaithfulGroup {
                counted = false
            }
        }
        @Sendable func handOverNew(_ values: [BSON]) async throws {
            for chunk in seen.insert(values).chunked(into: batch) { try await body(chunk.map { ValueGroup(values: [$0], documents: nil) }) }
        }
        let prefixes = steps.indices.map { steps[...$0].joined(separator: ".") }
        // Arrays at a step on the way, or at the path itself.
        var arrays = try await runsThroughArrayOfDocuments(namespace, path)
        if !arrays { arrays = try await holdsArray(namespace, at: path) }
        if arrays || Self.holdsObjectId(.document(filter)) {
            let exact = counted
            try await forEachBatch(namespace, filter: filter, projection: [steps[0]: 1], batchSize: batch) { documents in
                if exact {
                    // A group per document: its values, counted once.
                    let groups = documents.compactMap { document -> ValueGroup? in
                        var distinct = Set<BSON>()
                        let values = document.equalityValues(atPath: path).filter { distinct.insert($0).inserted }
                        return values.isEmpty ? nil : ValueGroup(values: values, documents: 1)
                    }
                    if !groups.isEmpty { try await body(groups) }
                } else {
                    try await handOverNew(documents.flatMap { $0.equalityValues(atPath: path) })
                }
            }
            return
        }
        var pipeline: [BSONDocument] = [["$match": .document(filter)]]
        pipeline += prefixes.map { ["$unwind": .string("$" + $0)] }
        pipeline.append(["$group": ["_id": .string("$" + path)]])
        try await collection(namespace).aggregate(pipeline, options: AggregateOptions(batchSize: batch, allowDiskUse: true))
            .forEachBatch { groups in
                try await handOverNew(groups.compactMap({ $0["_id"] }).filter({ $0 != .null }))
            }
    }

    public func documents(_ namespace: Namespace, ids: [BSON], projection: BSONDocument) async throws -> [BSONDocument] {
        var found: [BSONDocument] = []
        for filter in idFilters(ids) {
            found += try await collection(namespace).find(filter, options: FindOptions(projection: projection, batchSize: ids.count)).toArray()
        }
        return found
    }

    /// One `$in` per BSON type. MongoDB takes mixed types in one `$in`; the test server
    /// matches only some of them (docs/test-server.md).
    public func idFilters(_ ids: [BSON]) -> [BSONDocument] {
        Dictionary(grouping: ids, by: \.typeByte).sorted { $0.key < $1.key }.map { ["_id": ["$in": .array($0.value)]] }
    }

    static func holdsObjectId(_ value: BSON) -> Bool {
        switch value {
        case .objectId: true
        case .array(let values): values.contains(where: holdsObjectId)
        case .document(let document): document.values.contains(where: holdsObjectId)
        default: false
        }
    }

    public func bulkUpdate(_ namespace: Namespace, _ updates: [UpdateStatement]) async throws -> WriteCounts {
        let result = try await collection(namespace).bulkWrite(
            updates.map { $0.many ? .updateMany(filter: $0.filter, update: $0.update) : .updateOne(filter: $0.filter, update: $0.update) },
            ordered: false
        )
        return WriteCounts(matched: result.matchedCount, modified: result.modifiedCount)
    }
}

/// A group of the fast `valueGroups` aggregation whose key is not what its
/// documents hold.
private struct UnfaithfulGroup: Error {}

/// The distinct values seen so far by a streamed read.
private final class DistinctCollector: @unchecked Sendable {
    // @unchecked: guarded by the lock.
    private let lock = NSLock()
    private var seen = Set<BSON>()
    /// Those of `values` not seen before, each once.
    func insert(_ values: [BSON]) -> [BSON] { lock.withLock { values.filter { seen.insert($0).inserted } } }
}

/// Groups gathered from an aggregation's batches.
private final class GroupCollector: @unchecked Sendable {
    // @unchecked: guarded by the lock.
    private let lock = NSLock()
    private var groups: [(key: BSON, documents: Int)] = []
    func add(_ more: [(key: BSON, documents: Int)]) { lock.withLock { groups += more } }
    var value: [(key: BSON, documents: Int)] { lock.withLock { groups } }
}
