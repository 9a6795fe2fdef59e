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

/// Owns a `mongoc_change_stream_t`, the handle it came from, and the leased client.
final class ChangeStreamBox: @unchecked Sendable {
    // @unchecked: the C handles are used by one blocking wait at a time (`waiting`),
    // and destroyed once, by whichever of `close` and the last wait comes second;
    // everything else is lock-protected.

    struct Handles: @unchecked Sendable {
        let stream: OpaquePointer
        /// The collection or database the stream came from, destroyed after it.
        let parent: OpaquePointer
        let parentIsDatabase: Bool
    }

    /// What one wait on the server gave.
    struct Outcome: Sendable {
        var event: BSONDocument?
        var resumeToken: BSONDocument?
    }

    private struct State {
        var waiting = false
        var waiter: CheckedContinuation<Outcome?, any Error>?
        var closing = false
        var closedByShutdown = false
        var destroyed = false
        var resumeToken: BSONDocument?
    }

    private let lease: LeasedClient
    private let handles: Handles
    private let minimumWaitInterval: Duration
    private let operation: String
    private let namespace: String
    private let state = NIOLockedValueBox(State())

    init(lease: LeasedClient, handles: Handles, minimumWaitInterval: Duration, operation: String, namespace: String) {
        self.lease = lease
        self.handles = handles
        self.minimumWaitInterval = minimumWaitInterval
        self.operation = operation
        self.namespace = namespace
    }

    var resumeToken: BSONDocument? { state.withLockedValue { $0.resumeToken } }

    func next() async throws -> BSONDocument? {
        let clock = ContinuousClock()
        do {
            while true {
                try Task.checkCancellation()
                let started = clock.now
                guard let outcome = try await waitOnce() else {
                    if state.withLockedValue({ $0.closedByShutdown }) { throw MongoError.poolClosed(operation) }
                    return nil
                }
                if let event = outcome.event {
                    // The server closes the stream after invalidate: end with it.
                    if event["operationType"]?.stringValue == "invalidate" { close(byShutdown: false) }
                    return event
                }
                // Nothing came. A real server held the wait for maxAwaitTime; one that
                // answers at once (see docs/test-server.md) is not asked again sooner.
                let pause = minimumWaitInterval - (clock.now - started)
                if pause > .zero { try await Task.sleep(for: pause) }
            }
        } catch {
            close(byShutdown: false)
            throw error
        }
    }

    /// One wait on the server, or nil when the stream is closed.
    private func waitOnce() async throws -> Outcome? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Outcome?, any Error>) in
                enum Start { case submit, closed, busy, cancelled }
                let start = state.withLockedValue { state -> Start in
                    if state.closing { return .closed }
                    if state.waiting { return .busy }
                    // Checked under the lock that the cancellation handler takes, so a
                    // cancellation either is seen here or finds the waiter stored.
                    if Task.isCancelled { return .cancelled }
                    state.waiting = true
                    state.waiter = continuation
                    return .submit
                }
                switch start {
                case .closed:
                    continuation.resume(returning: nil)
                case .busy:
                    continuation.resume(throwing: MongoError(
                        code: .invalidArgument, operation: operation, namespace: namespace,
                        message: "a change stream is read by one task at a time"
                    ))
                case .cancelled:
                    continuation.resume(throwing: CancellationError())
                case .submit:
                    let (handles, operation, namespace) = (self.handles, self.operation, self.namespace)
                    lease.pool.threadPool.submit { [self] workState in
                        let result: Result<Outcome?, any Error> = if case .active = workState {
                            Result { try Self.waitOnServer(handles, operation: operation, namespace: namespace) }
                        } else {
                            .failure(MongoError.poolClosed(operation))
                        }
                        finishWait(result)
                    }
                }
            }
        } onCancel: {
            let waiter = state.withLockedValue { state in
                defer { state.waiter = nil }
                state.closing = true
                return state.waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// On a pool thread, after a wait: records the token, hands the result to the
    /// waiter if it is still there, and destroys the stream if it was closed meanwhile.
    private func finishWait(_ result: Result<Outcome?, any Error>) {
        let (waiter, destroy) = state.withLockedValue { state in
            state.waiting = false
            if case .success(let outcome?) = result, let token = outcome.resumeToken { state.resumeToken = token }
            defer { state.waiter = nil }
            let destroy = state.closing && !state.destroyed
            if destroy { state.destroyed = true }
            return (state.waiter, destroy)
        }
        if destroy {
            Self.destroy(handles)
            lease.pool.untrack(self)
            lease.release()
        }
        waiter?.resume(with: result)
    }

    /// Closes the stream; its handles are freed now, or by the wait in progress when
    /// it returns (they are not thread-safe).
    func close(byShutdown: Bool) {
        let destroy = state.withLockedValue { state -> Bool in
            if byShutdown, !state.closing { state.closedByShutdown = true }
            state.closing = true
            guard !state.waiting, !state.destroyed else { return false }
            state.destroyed = true
            return true
        }
        guard destroy else { return }
        let (handles, lease) = (self.handles, self.lease)
        lease.pool.untrack(self)
        // Destroying kills the server cursor: network I/O, so on the pool's threads.
        lease.pool.threadPool.submit { _ in
            Self.destroy(handles)
            lease.release()
        }
    }

    deinit { close(byShutdown: false) }

    // MARK: Blocking calls, on the pool's threads

    private static func waitOnServer(_ handles: Handles, operation: String, namespace: String) throws -> Outcome {
        var current: OpaquePointer?
        if mongoc_change_stream_next(handles.stream, &current), let current {
            do throws(BSONDecodingError) {
                return Outcome(event: try BSONDocument(libbson: current), resumeToken: resumeToken(of: handles.stream))
            } catch {
                throw MongoError.decoding(error, operation: operation, namespace: namespace)
            }
        }
        if let error = error(of: handles.stream, operation: operation, namespace: namespace) { throw error }
        return Outcome(event: nil, resumeToken: resumeToken(of: handles.stream))
    }

    private static func resumeToken(of stream: OpaquePointer) -> BSONDocument? {
        mongoc_change_stream_get_resume_token(stream).flatMap { try? BSONDocument(libbson: $0) }
    }

    static func error(of stream: OpaquePointer, operation: String, namespace: String) -> MongoError? {
        var error = bson_error_t()
        var reply: OpaquePointer?
        guard mongoc_change_stream_error_document(stream, &error, &reply) else { return nil }
        let replyDocument = reply.flatMap { try? BSONDocument(libbson: $0) }
        return MongoError.changeStream(MongoError(error, operation: operation, namespace: namespace, reply: replyDocument))
    }

    static func destroy(_ handles: Handles) {
        mongoc_change_stream_destroy(handles.stream)
        if handles.parentIsDatabase {
            mongoc_database_destroy(handles.parent)
        } else {
            mongoc_collection_destroy(handles.parent)
        }
    }
}
