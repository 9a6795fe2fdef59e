import BSON

/// Options of `find`. Every default is the server's own.
public struct FindOptions: Sendable {
    /// Fields to return (`{name: 1}`) or leave out (`{email: 0}`). Default: all.
    public var projection: BSONDocument?
    /// Sort order (`{created_at: 1}`). Default: natural order.
    public var sort: BSONDocument?
    /// Most documents to return. Default: no limit.
    public var limit: Int?
    public var skip: Int?
    /// Documents per server batch (and per hop to our threads). Default: the server's.
    public var batchSize: Int?
    /// Index to use, by name or key pattern.
    public var hint: BSON?

    public init(projection: BSONDocument? = nil, sort: BSONDocument? = nil, limit: Int? = nil,
                skip: Int? = nil, batchSize: Int? = nil, hint: BSON? = nil) {
        self.projection = projection
        self.sort = sort
        self.limit = limit
        self.skip = skip
        self.batchSize = batchSize
        self.hint = hint
    }

    var document: BSONDocument {
        var opts = BSONDocument()
        if let projection { opts.append("projection", .document(projection)) }
        if let sort { opts.append("sort", .document(sort)) }
        if let limit { opts.append("limit", .int64(Int64(limit))) }
        if let skip { opts.append("skip", .int64(Int64(skip))) }
        if let batchSize { opts.append("batchSize", .int32(Int32(clamping: batchSize))) }
        if let hint { opts.append("hint", hint) }
        return opts
    }
}

public struct CountOptions: Sendable {
    public var limit: Int?
    public var skip: Int?
    public var hint: BSON?

    public init(limit: Int? = nil, skip: Int? = nil, hint: BSON? = nil) {
        self.limit = limit
        self.skip = skip
        self.hint = hint
    }

    var document: BSONDocument {
        var opts = BSONDocument()
        if let limit { opts.append("limit", .int64(Int64(limit))) }
        if let skip { opts.append("skip", .int64(Int64(skip))) }
        if let hint { opts.append("hint", hint) }
        return opts
    }
}

public struct UpdateOptions: Sendable {
    /// Insert a document when nothing matches. Default false.
    public var upsert: Bool
    /// Filters for `$[identifier]` positional updates.
    public var arrayFilters: [BSONDocument]?
    public var hint: BSON?

    public init(upsert: Bool = false, arrayFilters: [BSONDocument]? = nil, hint: BSON? = nil) {
        self.upsert = upsert
        self.arrayFilters = arrayFilters
        self.hint = hint
    }

    var document: BSONDocument {
        var opts = BSONDocument()
        if upsert { opts.append("upsert", true) }
        if let arrayFilters { opts.append("arrayFilters", .array(arrayFilters.map { .document($0) })) }
        if let hint { opts.append("hint", hint) }
        return opts
    }
}

public struct DeleteOptions: Sendable {
    public var hint: BSON?

    public init(hint: BSON? = nil) { self.hint = hint }

    var document: BSONDocument {
        var opts = BSONDocument()
        if let hint { opts.append("hint", hint) }
        return opts
    }
}

public struct FindOneAndUpdateOptions: Sendable {
    public enum ReturnDocument: Sendable { case before, after }

    /// Which document to take when several match. Default: natural order.
    public var sort: BSONDocument?
    public var projection: BSONDocument?
    /// Insert when nothing matches. Default false.
    public var upsert: Bool
    /// Return the document as it was before or after the update. Default `.before`.
    public var returnDocument: ReturnDocument

    public init(sort: BSONDocument? = nil, projection: BSONDocument? = nil, upsert: Bool = false,
                returnDocument: ReturnDocument = .before) {
        self.sort = sort
        self.projection = projection
        self.upsert = upsert
        self.returnDocument = returnDocument
    }
}

public struct AggregateOptions: Sendable {
    /// Documents per batch. Default: the server's.
    public var batchSize: Int?
    /// Let stages spill to disk. Default: the server's (false before 6.0).
    public var allowDiskUse: Bool?

    public init(batchSize: Int? = nil, allowDiskUse: Bool? = nil) {
        self.batchSize = batchSize
        self.allowDiskUse = allowDiskUse
    }

    var document: BSONDocument {
        var opts = BSONDocument()
        if let batchSize { opts.append("batchSize", .int32(Int32(clamping: batchSize))) }
        if let allowDiskUse { opts.append("allowDiskUse", .bool(allowDiskUse)) }
        return opts
    }
}

/// Options of `watch` (a change stream).
public struct ChangeStreamOptions: Sendable {
    /// How long one wait on the server lasts when nothing happens (`maxAwaitTimeMS`).
    /// It also bounds how long a closed or cancelled stream keeps its client and a pool
    /// thread (a wait in progress cannot be interrupted), so how long `shutdown()` can
    /// wait for it. Default 1 s.
    public var maxAwaitTime: Duration
    /// The least time between the starts of two waits that found nothing, so that a
    /// server answering an empty wait at once is not asked again in a tight loop.
    /// Default 250 ms.
    public var minimumWaitInterval: Duration
    /// Events per server batch. Default: the server's.
    public var batchSize: Int?
    /// `updateLookup` to get the current document with update events. Default: the
    /// server's (none).
    public var fullDocument: String?
    /// Resume after this token (`resumeToken` of an earlier stream). Default: start now.
    public var resumeAfter: BSONDocument?
    /// Like `resumeAfter`, but also past an `invalidate` event. Default: start now.
    public var startAfter: BSONDocument?

    public init(maxAwaitTime: Duration = .seconds(1), minimumWaitInterval: Duration = .milliseconds(250),
                batchSize: Int? = nil, fullDocument: String? = nil,
                resumeAfter: BSONDocument? = nil, startAfter: BSONDocument? = nil) {
        self.maxAwaitTime = maxAwaitTime
        self.minimumWaitInterval = minimumWaitInterval
        self.batchSize = batchSize
        self.fullDocument = fullDocument
        self.resumeAfter = resumeAfter
        self.startAfter = startAfter
    }

    var document: BSONDocument {
        let (seconds, attoseconds) = maxAwaitTime.components
        let milliseconds = max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        var opts: BSONDocument = ["maxAwaitTimeMS": .int64(milliseconds)]
        if let batchSize { opts.append("batchSize", .int32(Int32(clamping: batchSize))) }
        if let fullDocument { opts.append("fullDocument", .string(fullDocument)) }
        if let resumeAfter { opts.append("resumeAfter", .document(resumeAfter)) }
        if let startAfter { opts.append("startAfter", .document(startAfter)) }
        return opts
    }
}

/// One index to create: its keys (`{owner_id: 1}`) and options.
public struct IndexModel: Sendable {
    public var keys: BSONDocument
    public var options: IndexOptions

    public init(_ keys: BSONDocument, options: IndexOptions = IndexOptions()) {
        self.keys = keys
        self.options = options
    }
}

public struct IndexOptions: Sendable {
    /// Index name. Default: the keys joined as the server names them (`owner_id_1`).
    public var name: String?
    public var unique: Bool
    public var sparse: Bool
    /// A TTL index: documents expire this many seconds after the indexed date.
    public var expireAfterSeconds: Int?
    public var partialFilterExpression: BSONDocument?

    public init(name: String? = nil, unique: Bool = false, sparse: Bool = false,
                expireAfterSeconds: Int? = nil, partialFilterExpression: BSONDocument? = nil) {
        self.name = name
        self.unique = unique
        self.sparse = sparse
        self.expireAfterSeconds = expireAfterSeconds
        self.partialFilterExpression = partialFilterExpression
    }
}

/// One write of a bulk write.
public enum WriteModel: Sendable {
    case insertOne(BSONDocument)
    case deleteOne(filter: BSONDocument)
    case deleteMany(filter: BSONDocument)
    case updateOne(filter: BSONDocument, update: BSONDocument, options: UpdateOptions = UpdateOptions())
    case updateMany(filter: BSONDocument, update: BSONDocument, options: UpdateOptions = UpdateOptions())
    case replaceOne(filter: BSONDocument, replacement: BSONDocument, upsert: Bool = false)
}

public struct InsertOneResult: Sendable, Hashable {
    public let insertedId: BSON
}

public struct InsertManyResult: Sendable, Hashable {
    public let insertedCount: Int
    /// The `_id` of each document, in input order (generated where it had none).
    public let insertedIds: [BSON]
}

public struct DeleteResult: Sendable, Hashable {
    public let deletedCount: Int
}

public struct UpdateResult: Sendable, Hashable {
    public let matchedCount: Int
    public let modifiedCount: Int
    public let upsertedCount: Int
    public let upsertedId: BSON?
}

public struct BulkWriteResult: Sendable, Hashable {
    public let insertedCount: Int
    public let matchedCount: Int
    public let modifiedCount: Int
    public let deletedCount: Int
    public let upsertedCount: Int
    /// `_id` of each upserted document, by the index of its model.
    public let upsertedIds: [Int: BSON]

    static let empty = BulkWriteResult(insertedCount: 0, matchedCount: 0, modifiedCount: 0,
                                       deletedCount: 0, upsertedCount: 0, upsertedIds: [:])
}

extension BSONDocument {
    /// The document with an `_id` first: its own, or a new ObjectId.
    func withID() -> (BSONDocument, BSON) {
        if let id = self["_id"] { return (self, id) }
        let id = BSON.objectId(BSONObjectId())
        var copy = BSONDocument()
        copy.append("_id", id)
        for (key, value) in self { copy.append(key, value) }
        return (copy, id)
    }
}
