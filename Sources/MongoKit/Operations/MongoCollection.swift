internal import CMongoC
import BSON

/// A collection handle: cheap to create, Sendable, and holds no connection. Every
/// operation checks a client out of the pool for its own duration only.
/// Errors thrown are `MongoError`.
public struct MongoCollection: Sendable {
    public let pool: MongoClientPool
    public let databaseName: String
    public let name: String
    /// The collation every operation of this handle states, unless its options name one;
    /// nil leaves the collection's default collation in force.
    public let collation: BSONDocument?

    public init(pool: MongoClientPool, databaseName: String, name: String, collation: BSONDocument? = nil) {
        self.pool = pool
        self.databaseName = databaseName
        self.name = name
        self.collation = collation
    }

    /// The same collection, every operation comparing strings by their bytes
    /// (`{locale: "simple"}`) whatever default collation the collection was created
    /// with: under a case-insensitive one, `{owner_id: "abc"}` would also match "ABC".
    /// MongoDB applies a collection's default collation to every operation that states
    /// none ("Collation": "If the collation is unspecified but the collection has a
    /// default collation, the operation uses the collation specified for the
    /// collection"). An index built under another collation does not serve these
    /// string comparisons.
    public func comparingBytes() -> MongoCollection {
        MongoCollection(pool: pool, databaseName: databaseName, name: name, collation: ["locale": "simple"])
    }

    /// `opts` with this handle's collation, unless it names one.
    func stated(_ opts: BSONDocument) -> BSONDocument {
        guard let collation, opts["collation"] == nil else { return opts }
        var stated = opts
        stated.append("collation", .document(collation))
        return stated
    }

    /// `database.collection`, for messages.
    public var namespace: String { "\(databaseName).\(name)" }

    /// Runs `body` with a `mongoc_collection_t` on a pool thread; it must not escape.
    private func withCollection<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (OpaquePointer) throws -> T
    ) async throws -> T {
        let (database, name) = (databaseName, self.name)
        return try await pool.withClient(operation: operation) { client in
            let collection = mongoc_client_get_collection(client, database, name)!
            defer { mongoc_collection_destroy(collection) }
            return try body(collection)
        }
    }

    /// Decodes a shim reply (a heap bson_t) and throws the mapped error when `ok` is false.
    private static func finish(
        reply: OpaquePointer?, ok: Bool, error: bson_error_t, operation: String, namespace: String
    ) throws -> BSONDocument {
        let document: BSONDocument
        if let reply {
            do {
                document = try OwnedBSON(taking: reply).document()
            } catch {
                throw MongoError.decoding(error, operation: operation, namespace: namespace)
            }
        } else {
            document = BSONDocument()
        }
        guard ok else { throw MongoError(error, operation: operation, namespace: namespace, reply: document) }
        return document
    }

    // MARK: Reads

    /// Documents matching `filter`, as a cursor.
    public func find(_ filter: BSONDocument = [:], options: FindOptions = FindOptions()) async throws -> MongoCursor {
        let lease = try await pool.lease(operation: "find")
        let (database, name, namespace) = (databaseName, self.name, self.namespace)
        let opts = stated(options.document)
        let cursor = try await lease.run(operation: "find") { client in
            let collection = mongoc_client_get_collection(client, database, name)!
            let cursor = withBSON(filter) { filterPointer in
                withBSON(opts) { optsPointer in
                    mongoc_collection_find_with_opts(collection, filterPointer, optsPointer, nil)!
                }
            }
            return CursorHandles(cursor: cursor, parent: collection)
        }
        return MongoCursor(box: CursorBox(
            lease: lease, cursor: cursor.cursor, parent: cursor.parent, parentIsDatabase: false,
            prefetch: options.batchSize ?? 101, operation: "find", namespace: namespace
        ))
    }

    /// The first document matching `filter`, or nil.
    public func findOne(_ filter: BSONDocument = [:], options: FindOptions = FindOptions()) async throws -> BSONDocument? {
        var options = options
        options.limit = 1
        options.batchSize = 1
        for try await document in try await find(filter, options: options) { return document }
        return nil
    }

    /// How many documents match `filter` (an aggregation on the server, exact).
    public func countDocuments(_ filter: BSONDocument = [:], options: CountOptions = CountOptions()) async throws -> Int {
        let namespace = self.namespace
        let opts = stated(options.document)
        return try await withCollection("countDocuments") { collection in
            var error = bson_error_t()
            let count = withBSON(filter) { f in withBSON(opts) { o in lethe_count_documents(collection, f, o, &error) } }
            guard count >= 0 else { throw MongoError(error, operation: "countDocuments", namespace: namespace) }
            return Int(count)
        }
    }

    /// Runs an aggregation pipeline.
    public func aggregate(_ pipeline: [BSONDocument], options: AggregateOptions = AggregateOptions()) async throws -> MongoCursor {
        let lease = try await pool.lease(operation: "aggregate")
        let (database, name, namespace) = (databaseName, self.name, self.namespace)
        let wrapped: BSONDocument = ["pipeline": .array(pipeline.map { .document($0) })]
        let opts = stated(options.document)
        let cursor = try await lease.run(operation: "aggregate") { client in
            let collection = mongoc_client_get_collection(client, database, name)!
            let cursor = withBSON(wrapped) { p in
                withBSON(opts) { o in mongoc_collection_aggregate(collection, MONGOC_QUERY_NONE, p, o, nil)! }
            }
            return CursorHandles(cursor: cursor, parent: collection)
        }
        return MongoCursor(box: CursorBox(
            lease: lease, cursor: cursor.cursor, parent: cursor.parent, parentIsDatabase: false,
            prefetch: options.batchSize ?? 101, operation: "aggregate", namespace: namespace
        ))
    }

    // MARK: Writes

    private func write(
        _ kind: Int32, operation: String, _ selector: BSONDocument, _ update: BSONDocument?, _ opts: BSONDocument
    ) async throws -> BSONDocument {
        // Inserts compare nothing, and an `insert` command takes no collation: MongoDB
        // refuses the unknown field.
        let (namespace, collated) = (self.namespace, kind == Int32(LETHE_INSERT_ONE) ? opts : stated(opts))
        return try await withCollection(operation) { collection in
            var error = bson_error_t()
            var ok = false
            let reply = withBSON(selector) { s in
                withOptionalBSON(update) { u in
                    withBSON(collated) { o in lethe_collection_write(collection, kind, s, u, o, &error, &ok) }
                }
            }
            return try Self.finish(reply: reply, ok: ok, error: error, operation: operation, namespace: namespace)
        }
    }

    @discardableResult
    public func insertOne(_ document: BSONDocument) async throws -> InsertOneResult {
        let (withID, id) = document.withID()
        _ = try await write(Int32(LETHE_INSERT_ONE), operation: "insertOne", withID, nil, [:])
        return InsertOneResult(insertedId: id)
    }

    /// Inserts `documents` in one bulk write (libmongoc splits it into as many
    /// `insert` commands as the server's batch limits need).
    @discardableResult
    public func insertMany(_ documents: [BSONDocument], ordered: Bool = true) async throws -> InsertManyResult {
        let prepared = documents.map { $0.withID() }
        let result = try await bulkWrite(prepared.map { .insertOne($0.0) }, ordered: ordered, operation: "insertMany")
        return InsertManyResult(insertedCount: result.insertedCount, insertedIds: prepared.map(\.1))
    }

    @discardableResult
    public func deleteOne(_ filter: BSONDocument, options: DeleteOptions = DeleteOptions()) async throws -> DeleteResult {
        let reply = try await write(Int32(LETHE_DELETE_ONE), operation: "deleteOne", filter, nil, options.document)
        return DeleteResult(deletedCount: reply["deletedCount"]?.intValue ?? 0)
    }

    @discardableResult
    public func deleteMany(_ filter: BSONDocument, options: DeleteOptions = DeleteOptions()) async throws -> DeleteResult {
        let reply = try await write(Int32(LETHE_DELETE_MANY), operation: "deleteMany", filter, nil, options.document)
        return DeleteResult(deletedCount: reply["deletedCount"]?.intValue ?? 0)
    }

    @discardableResult
    public func updateOne(_ filter: BSONDocument, _ update: BSONDocument, options: UpdateOptions = UpdateOptions()) async throws -> UpdateResult {
        Self.updateResult(try await write(Int32(LETHE_UPDATE_ONE), operation: "updateOne", filter, update, options.document))
    }

    @discardableResult
    public func updateMany(_ filter: BSONDocument, _ update: BSONDocument, options: UpdateOptions = UpdateOptions()) async throws -> UpdateResult {
        Self.updateResult(try await write(Int32(LETHE_UPDATE_MANY), operation: "updateMany", filter, update, options.document))
    }

    private static func updateResult(_ reply: BSONDocument) -> UpdateResult {
        UpdateResult(
            matchedCount: reply["matchedCount"]?.intValue ?? 0,
            modifiedCount: reply["modifiedCount"]?.intValue ?? 0,
            upsertedCount: reply["upsertedCount"]?.intValue ?? 0,
            upsertedId: reply["upsertedId"]
        )
    }

    /// Sends `models` as one bulk write: ordered stops at the first error, unordered
    /// tries them all. libmongoc groups consecutive models of one kind into one command.
    @discardableResult
    public func bulkWrite(_ models: [WriteModel], ordered: Bool = true) async throws -> BulkWriteResult {
        try await bulkWrite(models, ordered: ordered, operation: "bulkWrite")
    }

    private func bulkWrite(_ models: [WriteModel], ordered: Bool, operation: String) async throws -> BulkWriteResult {
        guard !models.isEmpty else { return .empty }
        let namespace = self.namespace
        // Each delete, update and replace states the collation (inserts compare nothing).
        let collated = stated([:])
        return try await withCollection(operation) { collection in
            let bulk = withBSON(["ordered": .bool(ordered)]) { mongoc_collection_create_bulk_operation_with_opts(collection, $0)! }
            defer { mongoc_bulk_operation_destroy(bulk) }
            var error = bson_error_t()
            for model in models {
                let added: Bool
                switch model {
                case .insertOne(let document):
                    added = withBSON(document) { mongoc_bulk_operation_insert_with_opts(bulk, $0, nil, &error) }
                case .deleteOne(let filter):
                    added = withBSON(filter) { f in withBSON(collated) { o in mongoc_bulk_operation_remove_one_with_opts(bulk, f, o, &error) } }
                case .deleteMany(let filter):
                    added = withBSON(filter) { f in withBSON(collated) { o in mongoc_bulk_operation_remove_many_with_opts(bulk, f, o, &error) } }
                case .updateOne(let filter, let update, let options):
                    added = withBSON(filter) { f in withBSON(update) { u in withBSON(stated(options.document)) { o in
                        mongoc_bulk_operation_update_one_with_opts(bulk, f, u, o, &error)
                    } } }
                case .updateMany(let filter, let update, let options):
                    added = withBSON(filter) { f in withBSON(update) { u in withBSON(stated(options.document)) { o in
                        mongoc_bulk_operation_update_many_with_opts(bulk, f, u, o, &error)
                    } } }
                case .replaceOne(let filter, let replacement, let upsert):
                    let opts = stated(upsert ? ["upsert": true] : [:])
                    added = withBSON(filter) { f in withBSON(replacement) { r in withBSON(opts) { o in
                        mongoc_bulk_operation_replace_one_with_opts(bulk, f, r, o, &error)
                    } } }
                }
                guard added else { throw MongoError(error, operation: operation, namespace: namespace) }
            }
            var ok = false
            let reply = lethe_bulk_execute(bulk, &error, &ok)
            let document = try Self.finish(reply: reply, ok: ok, error: error, operation: operation, namespace: namespace)
            var upserted: [Int: BSON] = [:]
            for item in document["upserted"]?.arrayValue ?? [] {
                if let entry = item.documentValue, let index = entry["index"]?.intValue, let id = entry["_id"] {
                    upserted[index] = id
                }
            }
            return BulkWriteResult(
                insertedCount: document["nInserted"]?.intValue ?? 0,
                matchedCount: document["nMatched"]?.intValue ?? 0,
                modifiedCount: document["nModified"]?.intValue ?? 0,
                deletedCount: document["nRemoved"]?.intValue ?? 0,
                upsertedCount: document["nUpserted"]?.intValue ?? 0,
                upsertedIds: upserted
            )
        }
    }

    /// Atomically updates one document matching `filter` and returns it (before or
    /// after the update, by `options.returnDocument`), or nil when none matched.
    public func findOneAndUpdate(
        _ filter: BSONDocument, _ update: BSONDocument, options: FindOneAndUpdateOptions = FindOneAndUpdateOptions()
    ) async throws -> BSONDocument? {
        let (namespace, extra) = (self.namespace, stated([:]))
        return try await withCollection("findOneAndUpdate") { collection in
            let opts = mongoc_find_and_modify_opts_new()!
            defer { mongoc_find_and_modify_opts_destroy(opts) }
            if !extra.isEmpty { _ = withBSON(extra) { mongoc_find_and_modify_opts_append(opts, $0) } }
            _ = withBSON(update) { mongoc_find_and_modify_opts_set_update(opts, $0) }
            if let sort = options.sort { _ = withBSON(sort) { mongoc_find_and_modify_opts_set_sort(opts, $0) } }
            if let projection = options.projection { _ = withBSON(projection) { mongoc_find_and_modify_opts_set_fields(opts, $0) } }
            var flags = MONGOC_FIND_AND_MODIFY_NONE.rawValue
            if options.upsert { flags |= MONGOC_FIND_AND_MODIFY_UPSERT.rawValue }
            if options.returnDocument == .after { flags |= MONGOC_FIND_AND_MODIFY_RETURN_NEW.rawValue }
            _ = mongoc_find_and_modify_opts_set_flags(opts, mongoc_find_and_modify_flags_t(rawValue: flags))
            var error = bson_error_t()
            var ok = false
            let reply = withBSON(filter) { lethe_find_and_modify(collection, $0, opts, &error, &ok) }
            let document = try Self.finish(reply: reply, ok: ok, error: error, operation: "findOneAndUpdate", namespace: namespace)
            return document["value"]?.documentValue
        }
    }

    // MARK: Indexes and administration

    /// Creates an index on `keys` (`{owner_id: 1}`) and returns its name. Creating an
    /// index that already exists with the same options does nothing.
    @discardableResult
    public func createIndex(_ keys: BSONDocument, options: IndexOptions = IndexOptions()) async throws -> String {
        try await createIndexes([IndexModel(keys, options: options)])[0]
    }

    /// Creates these indexes in one command (one round trip) and returns their names.
    /// Those that already exist with the same options are left as they are.
    @discardableResult
    public func createIndexes(_ indexes: [IndexModel]) async throws -> [String] {
        var names: [String] = []
        var specs: [BSON] = []
        for (keys, options) in indexes.map({ ($0.keys, $0.options) }) {
            let indexName = options.name ?? keys.map { "\($0.key)_\($0.value.int64Value.map(String.init) ?? $0.value.stringValue ?? "1")" }
                .joined(separator: "_")
            var index: BSONDocument = ["key": .document(keys), "name": .string(indexName)]
            if options.unique { index.append("unique", true) }
            if options.sparse { index.append("sparse", true) }
            if let ttl = options.expireAfterSeconds { index.append("expireAfterSeconds", .int32(Int32(clamping: ttl))) }
            if let partial = options.partialFilterExpression { index.append("partialFilterExpression", .document(partial)) }
            names.append(indexName)
            specs.append(.document(index))
        }
        guard !specs.isEmpty else { return [] }
        let command: BSONDocument = ["createIndexes": .string(name), "indexes": .array(specs)]
        _ = try await MongoDatabase(pool: pool, name: databaseName)
            .runCommand(command, kind: .write, operation: "createIndexes", namespace: namespace)
        return names
    }

    /// The collection's indexes (`{name, key, unique?...}`); empty when it does not exist.
    public func listIndexes() async throws -> [BSONDocument] {
        do {
            let reply = try await MongoDatabase(pool: pool, name: databaseName)
                .runCommand(["listIndexes": .string(name)], kind: .read, operation: "listIndexes", namespace: namespace)
            return (reply.value(atPath: "cursor.firstBatch")?.arrayValue ?? []).compactMap(\.documentValue)
        } catch let error as MongoError where error.serverCode == 26 {
            return []
        }
    }

    /// Drops the collection; dropping one that does not exist is not an error.
    public func drop() async throws {
        let namespace = self.namespace
        try await withCollection("drop") { collection in
            var error = bson_error_t()
            if !mongoc_collection_drop_with_opts(collection, nil, &error) {
                let mapped = MongoError(error, operation: "drop", namespace: namespace)
                // 26 NamespaceNotFound: already gone.
                if mapped.serverCode != 26, !mapped.detail.map({ $0.contains("ns not found") }).unwrapOr(false) {
                    throw mapped
                }
            }
        }
    }
}

/// Cursor handles crossing from a pool thread back to the caller.
struct CursorHandles: @unchecked Sendable {
    let cursor: OpaquePointer
    let parent: OpaquePointer
}

extension Optional where Wrapped == Bool {
    func unwrapOr(_ value: Bool) -> Bool { self ?? value }
}
