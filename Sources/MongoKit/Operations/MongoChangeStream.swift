internal import CMongoC
import BSON
import NIOConcurrencyHelpers
import NIOPosix

/// A change stream: the changes to a collection or a database as they happen, as an
/// `AsyncSequence` of change event documents (`{_id: <resume token>, operationType,
/// ns, documentKey, ...}`). Open one with `MongoCollection.watch` or `MongoDatabase.watch`.
///
/// It holds one pooled client for its whole life, like a cursor. Each wait for events is
/// one `getMore` on the pool's threads lasting at most `ChangeStreamOptions.maxAwaitTime`;
/// iterating waits again, checking for cancellation in between, until an event comes.
/// The sequence ends (nil) after an `invalidate` event (the collection was dropped or
/// renamed) or `close()`. An error ends it too (libmongoc has already resumed once where
/// the error allowed): open a new stream, with `resumeToken` if events must not be missed.
///
/// Cancelling the iterating task ends its wait at once with `CancellationError` and
/// closes the stream. A wait in progress on the server cannot be interrupted, so the
/// client goes back to the pool when it returns, within `maxAwaitTime`;
/// `MongoClientPool.shutdown()` closes every open stream the same way, so it never
/// waits longer than that for one.
public struct MongoChangeStream: AsyncSequence, Sendable {
    public typealias Element = BSONDocument

    let box: ChangeStreamBox

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(box: box) }

    /// Read by one task at a time: a second concurrent `next()` throws, and ends the stream.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let box: ChangeStreamBox

        public mutating func next() async throws -> BSONDocument? { try await box.next() }
    }

    /// The next event, waiting as long as it takes; the same as iterating.
    public func next() async throws -> BSONDocument? { try await box.next() }

    /// The token to resume after the last event read (or, before any, after the point
    /// the stream has reached): `ChangeStreamOptions.resumeAfter` of a new stream. Nil
    /// until the server has sent one.
    public var resumeToken: BSONDocument? { box.resumeToken }

    /// Ends the stream: iteration returns nil from now on, and the client goes back to
    /// the pool (after the wait in progress, if any). Safe to call more than once.
    public func close() { box.close(byShutdown: false) }

    /// Where a stream is opened.
    enum Target: Sendable {
        case collection(database: String, name: String)
        case database(String)
    }

    static func open(
        pool: MongoClientPool, target: Target, namespace: String, pipeline: [BSONDocument], options: ChangeStreamOptions
    ) async throws -> MongoChangeStream {
        let operation = "watch"
        let lease = try await pool.lease(operation: operation)
        let wrapped: BSONDocument = ["pipeline": .array(pipeline.map { .document($0) })]
        let opts = options.document
        let handles: ChangeStreamBox.Handles
        do {
            handles = try await lease.run(operation: operation) { client in
                let handles = withBSON(wrapped) { p in
                    withBSON(opts) { o in
                        switch target {
                        case .collection(let database, let name):
                            let collection = mongoc_client_get_collection(client, database, name)!
                            return ChangeStreamBox.Handles(stream: mongoc_collection_watch(collection, p, o)!, parent: collection, parentIsDatabase: false)
                        case .database(let database):
                            let db = mongoc_client_get_database(client, database)!
                            return ChangeStreamBox.Handles(stream: mongoc_database_watch(db, p, o)!, parent: db, parentIsDatabase: true)
                        }
                    }
                }
                // libmongoc sends the aggregate inside watch: a refusal shows here.
                if let error = ChangeStreamBox.error(of: handles.stream, operation: operation, namespace: namespace) {
                    ChangeStreamBox.destroy(handles)
                    throw error
                }
                return handles
            }
        } catch {
            lease.release()
            throw error
        }
        let box = ChangeStreamBox(lease: lease, handles: handles, minimumWaitInterval: options.minimumWaitInterval,
                                  operation: operation, namespace: namespace)
        pool.track(box)
        return MongoChangeStream(box: box)
    }
}

extension MongoCollection {
    /// Opens a change stream on this collection. `pipeline` filters and shapes the events
    /// (`$match`, `$project`; keep `_id`, the resume token). Throws `MongoError` with code
    /// `.changeStreamsUnavailable` when the server offers none (a standalone server).
    public func watch(_ pipeline: [BSONDocument] = [], options: ChangeStreamOptions = ChangeStreamOptions()) async throws -> MongoChangeStream {
        try await MongoChangeStream.open(
            pool: pool, target: .collection(database: databaseName, name: name), namespace: namespace,
            pipeline: pipeline, options: options
        )
    }
}

extension MongoDatabase {
    /// Opens a change stream on every collection of this database (see
    /// `MongoCollection.watch`).
    public func watch(_ pipeline: [BSONDocument] = [], options: ChangeStreamOptions = ChangeStreamOptions()) async throws -> MongoChangeStream {
        try await MongoChangeStream.open(pool: pool, target: .database(name), namespace: name, pipeline: pipeline, options: options)
    }
}
