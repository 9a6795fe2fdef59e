internal import CMongoC
import BSON
import NIOConcurrencyHelpers
import NIOPosix

/// Owns a `mongoc_change_stream_t`, the handle it came from, and the leased client. What
/// state the stream is in, and so what to do next, is decided by a
/// `ChangeStreamStateMachine`; this class only does the I/O each of its actions names.
final class ChangeStreamBox: @unchecked Sendable {
    // @unchecked: the C handles are used by one getMore at a time and destroyed once, as
    // the state machine decides (it starts a wait only when none is in flight, and says
    // `closeStream` once); the machine itself is lock-protected.

    struct Handles: @unchecked Sendable {
        let stream: OpaquePointer
        /// The collection or database the stream came from, destroyed after it.
        let parent: OpaquePointer
        let parentIsDatabase: Bool
    }

    typealias StateMachine = ChangeStreamStateMachine<CheckedContinuation<ChangeStreamReply, Never>>

    private let lease: LeasedClient
    private let handles: Handles
    private let minimumWaitInterval: Duration
    private let operation: String
    private let namespace: String
    private let state = NIOLockedValueBox(StateMachine())

    init(lease: LeasedClient, handles: Handles, minimumWaitInterval: Duration, operation: String, namespace: String) {
        self.lease = lease
        self.handles = handles
        self.minimumWaitInterval = minimumWaitInterval
        self.operation = operation
        self.namespace = namespace
    }

    var resumeToken: BSONDocument? { state.withLockedValue { $0.resumeToken } }

    /// The next event; nil once the stream is closed. Cancelling the task ends a wait at
    /// once and closes the stream.
    func next() async throws -> BSONDocument? {
        let reader = state.withLockedValue { $0.newReader() }
        return try await withTaskCancellationHandler {
            try await read(as: reader)
        } onCancel: {
            perform(state.withLockedValue { $0.cancel(reader: reader) })
        }
    }

    private func read(as reader: Int) async throws -> BSONDocument? {
        let clock = ContinuousClock()
        while true {
            let started = clock.now
            switch await waitOnce(as: reader) {
            case .event(let event):
                return event
            case .waitAgain:
                // Nothing came. A real server held the wait for maxAwaitTime; one that
                // answers at once (see docs/test-server.md) is not asked again sooner.
                // A cancellation here ends the sleep; its handler has closed the stream.
                let pause = minimumWaitInterval - (clock.now - started)
                if pause > .zero { try await Task.sleep(for: pause) }
            case .end:
                return nil
            case .shutDown:
                throw MongoError.poolClosed(operation)
            case .busy:
                throw MongoError(
                    code: .invalidArgument, operation: operation, namespace: namespace,
                    message: "a change stream is read by one task at a time"
                )
            case .cancelled:
                throw CancellationError()
            case .failed(let error):
                throw error
            }
        }
    }

    /// One wait: a getMore on the pool's threads, unless the state machine answers at once.
    private func waitOnce(as reader: Int) async -> ChangeStreamReply {
        await withCheckedContinuation { continuation in
            // `Task.isCancelled` is read under the lock the cancellation handler takes.
            perform(state.withLockedValue { $0.startWait(reader: reader, waiter: continuation, isCancelled: Task.isCancelled) })
        }
    }

    /// Closes the stream: its handles are freed now, or by the getMore in flight when it
    /// returns (they are not thread-safe).
    func close(byShutdown: Bool) {
        perform(state.withLockedValue { $0.close(byShutdown: byShutdown) })
    }

    deinit { close(byShutdown: false) }

    /// Does what the state machine said, outside its lock. `onPoolThread` when called
    /// from the end of a getMore, which then frees the handles itself, before resuming
    /// the reader.
    private func perform(_ action: StateMachine.Action, onPoolThread: Bool = false) {
        switch action {
        case .none:
            break
        case .startWait:
            startWaitOnServer()
        case .resume(let waiter, let reply):
            waiter.resume(returning: reply)
        case .closeStream:
            closeStream(onPoolThread: onPoolThread)
        case .closeStreamAndResume(let waiter, let reply):
            closeStream(onPoolThread: onPoolThread)
            waiter.resume(returning: reply)
        }
    }

    private func startWaitOnServer() {
        let (handles, operation, namespace) = (self.handles, self.operation, self.namespace)
        lease.pool.threadPool.submit { [self] workState in
            let (result, token): (StateMachine.WaitResult, BSONDocument?) = if case .active = workState {
                Self.waitOnServer(handles, operation: operation, namespace: namespace)
            } else {
                (.failed(MongoError.poolClosed(operation)), nil)
            }
            perform(state.withLockedValue { $0.waitFinished(result, resumeToken: token) }, onPoolThread: true)
        }
    }

    /// Frees the handles and gives the client back. Captures no `self`: it may run from
    /// `deinit`.
    private func closeStream(onPoolThread: Bool) {
        let (handles, lease) = (self.handles, self.lease)
        lease.pool.untrack(self)
        if onPoolThread {
            Self.destroy(handles)
            lease.release()
        } else {
            // Destroying kills the server cursor: network I/O, so on the pool's threads.
            lease.pool.threadPool.submit { _ in
                Self.destroy(handles)
                lease.release()
            }
        }
    }

    // MARK: Blocking calls, on the pool's threads

    /// One getMore, with the resume token after it (none after an error).
    private static func waitOnServer(
        _ handles: Handles, operation: String, namespace: String
    ) -> (StateMachine.WaitResult, BSONDocument?) {
        var current: OpaquePointer?
        if mongoc_change_stream_next(handles.stream, &current), let current {
            let event: BSONDocument
            do throws(BSONDecodingError) {
                event = try BSONDocument(libbson: current)
            } catch {
                return (.failed(MongoError.decoding(error, operation: operation, namespace: namespace)), nil)
            }
            let token = resumeToken(of: handles.stream)
            // The server closes the stream after invalidate.
            return (event["operationType"]?.stringValue == "invalidate" ? .invalidate(event) : .event(event), token)
        }
        if let error = error(of: handles.stream, operation: operation, namespace: namespace) { return (.failed(error), nil) }
        return (.empty, resumeToken(of: handles.stream))
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
