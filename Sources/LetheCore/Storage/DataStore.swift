import BSON

/// A collection in the application's data: `database.collection`.
public struct Namespace: Sendable, Hashable, CustomStringConvertible {
    public let database: String
    public let collection: String

    public init(database: String, collection: String) {
        self.database = database
        self.collection = collection
    }

    public var description: String { "\(database).\(collection)" }
}

/// The operations the erasure engine needs on the application's data. Filters and
/// updates are MongoDB query and update documents built by `RuleStatement`, never from
/// strings. The MongoDB implementation lives in LetheService.
public protocol DataStore: Sendable {
    /// The `_id`s of up to `limit` documents matching `filter` in which one of `paths`
    /// holds one of `values`, as a query's equality matches it (the field, or an
    /// element of an array there). Verification asks this rather than the write's own
    /// question, so that the store answers it by the most faithful means it has for
    /// each type of value: a write that missed is then found, not confirmed.
    func idsHolding(_ namespace: Namespace, values: [BSON], atAnyOf paths: [String], filter: BSONDocument, limit: Int) async throws -> [BSON]
    /// How many documents match (exact on a single server and a replica set).
    func count(_ namespace: Namespace, filter: BSONDocument) async throws -> Int
    /// The `_id`s of up to `limit` matching documents.
    func ids(_ namespace: Namespace, filter: BSONDocument, limit: Int) async throws -> [BSON]
    /// The first matching document in `sort` order, with only `projection`'s fields.
    func first(_ namespace: Namespace, filter: BSONDocument, sort: BSONDocument, projection: BSONDocument) async throws -> BSONDocument?
    /// Deletes every matching document; returns how many.
    func deleteMany(_ namespace: Namespace, filter: BSONDocument) async throws -> Int
    /// Applies `update` to every matching document.
    func updateMany(_ namespace: Namespace, filter: BSONDocument, update: BSONDocument) async throws -> WriteCounts
    /// Applies `update`, whose paths hold filtered positional operators (`$[e]`), to
    /// every matching document, changing only the array elements `arrayFilters` select.
    func updateMany(_ namespace: Namespace, filter: BSONDocument, update: BSONDocument, arrayFilters: [BSONDocument]) async throws -> WriteCounts
    /// Reads matching documents (`projection`'s fields) and hands them over in batches
    /// of at most `batchSize`; memory stays bounded by one batch.
    func forEachBatch(
        _ namespace: Namespace, filter: BSONDocument, projection: BSONDocument, batchSize: Int,
        _ body: @Sendable ([BSONDocument]) async throws -> Void
    ) async throws
    /// How many matching documents hold each distinct value at `path` (an array's
    /// whole value is one key), or nil when this store cannot group that faithfully
    /// (the caller then reads the documents). About one line per user.
    func groupCounts(_ namespace: Namespace, filter: BSONDocument, by path: String, batchSize: Int) async throws -> [(key: BSON, documents: Int)]?
    /// Hands `body` filters that together select every document matching `filter`
    /// (whose `dateField` is before `cutoff`; `matched` of them were counted), each
    /// selecting at most `bound` of them, for a write: windows of the date field
    /// (`DateWindows`), each keeping `filter`, so a document touched since it was
    /// counted is left alone. One filter, `filter` itself, when `matched <= bound`.
    /// A second holding more than `bound` goes by `_id`s, `readBatchSize` at a time
    /// (`DateWindows.writeById`).
    func forEachWriteWindow(
        _ namespace: Namespace, filter: BSONDocument, dateField: String, before cutoff: BSONDatetime,
        matched: Int, bound: Int, readBatchSize: Int,
        _ body: @Sendable (_ filters: [BSONDocument]) async throws -> Void
    ) async throws
    /// The values at `path` among the documents matching `filter`, as a query's
    /// equality sees them (the elements of an array there and the field of each element
    /// of an array of documents on the way, never the array itself), in groups of
    /// documents that hold the same value, with how many documents each group has
    /// where the store grouped whole documents. Every value is handed over at least
    /// once, in batches of at most `batchSize` groups; the client holds the groups of
    /// one batch, never the documents.
    func valueGroups(
        _ namespace: Namespace, filter: BSONDocument, path: String, batchSize: Int,
        _ body: @Sendable ([ValueGroup]) async throws -> Void
    ) async throws
    /// The documents with these `_id`s (`projection`'s fields), at most `ids.count`.
    func documents(_ namespace: Namespace, ids: [BSON], projection: BSONDocument) async throws -> [BSONDocument]
    /// The filters that together select the documents with these `_id`s: as few as
    /// the store serves exactly.
    func idFilters(_ ids: [BSON]) -> [BSONDocument]
    /// Sends every update as one unordered bulk write (one round trip per
    /// server batch limit, not per update).
    func bulkUpdate(_ namespace: Namespace, _ updates: [UpdateStatement]) async throws -> WriteCounts
}

/// Documents holding the same value at a path (`DataStore.valueGroups`).
public struct ValueGroup: Sendable, Equatable {
    /// What a query's equality matches in that value: the value, or an array's
    /// distinct elements (none for null).
    public var values: [BSON]
    /// How many documents hold it; nil where the store gathered the values without
    /// grouping whole documents (a document may then count in several groups).
    public var documents: Int?

    public init(values: [BSON], documents: Int?) {
        self.values = values
        self.documents = documents
    }
}

/// One update of a bulk write: `updateOne` or, with `many`, `updateMany`.
public struct UpdateStatement: Sendable {
    public var filter: BSONDocument
    public var update: BSONDocument
    public var many: Bool

    public init(filter: BSONDocument, update: BSONDocument, many: Bool = false) {
        self.filter = filter
        self.update = update
        self.many = many
    }
}

public struct WriteCounts: Sendable, Hashable {
    public var matched: Int
    public var modified: Int

    public init(matched: Int, modified: Int) {
        self.matched = matched
        self.modified = modified
    }
}

/// An error that may go away if the same operation is sent again (a primary stepping
/// down, a dropped connection). The engine retries these with backoff.
public protocol TransientFailure: Error {
    var isTransient: Bool { get }
}
