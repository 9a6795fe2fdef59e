internal import CMongoC
import BSON
import NIOConcurrencyHelpers
import NIOPosix

/// libmongoc wants `mongoc_init()` once per process before any other call. Its own log
/// lines go nowhere: every failure reaches callers through the error API, and a log
/// line can quote a connection string.
let libmongocInitialized: Void = {
    mongoc_init()
    mongoc_log_set_handler({ _, _, _, _ in }, nil)
}()

/// A bounded pool of MongoDB clients over `mongoc_client_pool_t`.
///
/// libmongoc's calls block, so they run on this pool's own threads (an `NIOThreadPool`
/// with one thread per client), never on Swift's cooperative pool; callers `await`
/// them. When every client is in use, callers wait asynchronously for one.
/// Call `shutdown()` when done: it refuses new work, waits for clients still checked
/// out (open cursors included), then closes every connection.
public final class MongoClientPool: @unchecked Sendable {
    // @unchecked: `pool` is a `mongoc_client_pool_t`, which libmongoc documents as
    // thread-safe; every other stored property is Sendable or lock-protected.

    public struct Options: Sendable {
        /// Clients (connections per server) in use at once, and threads that run
        /// libmongoc calls. Default 8.
        public var maximumSize: Int
        /// Application name sent in the connection handshake and shown in server logs.
        /// Default "lethe".
        public var appName: String

        public init(maximumSize: Int = 8, appName: String = "lethe") {
            self.maximumSize = maximumSize
            self.appName = appName
        }
    }

    typealias StateMachine = ClientPoolStateMachine<CheckedContinuation<Void, any Error>, CheckedContinuation<Void, Never>>

    public let connectionString: ConnectionString
    /// Counters of every command this pool sends.
    public let monitor: CommandMonitor
    let pool: OpaquePointer
    let threadPool: NIOThreadPool
    private let state: NIOLockedValueBox<StateMachine>
    private let waiterIDs = NIOLockedValueBox(0)
    private let destroyed = NIOLockedValueBox(false)
    /// Open change streams, closed by `shutdown()`: unlike a cursor, a stream never ends
    /// by itself, so its client would otherwise never come back.
    private let streams = NIOLockedValueBox<(closed: Bool, open: [ObjectIdentifier: @Sendable () -> Void])>((false, [:]))

    public convenience init(uri: String, options: Options = Options()) throws(MongoError) {
        try self.init(ConnectionString(uri), options: options)
    }

    public init(_ connectionString: ConnectionString, options: Options = Options()) throws(MongoError) {
        _ = libmongocInitialized
        precondition(options.maximumSize > 0, "maximumSize must be at least 1")
        var error = bson_error_t()
        guard let uri = mongoc_uri_new_with_error(connectionString.rawValue, &error) else {
            throw MongoError(code: .invalidURI, operation: "connect", message: "invalid connection string \(connectionString)")
        }
        defer { mongoc_uri_destroy(uri) }
        guard let pool = mongoc_client_pool_new_with_error(uri, &error) else {
            throw MongoError(
                code: .invalidURI, operation: "connect",
                message: "cannot create a client pool for \(connectionString): \(ConnectionString.scrub(error.messageText, of: connectionString.rawValue))"
            )
        }
        mongoc_client_pool_set_error_api(pool, Int32(MONGOC_ERROR_API_VERSION_2))
        mongoc_client_pool_max_size(pool, UInt32(options.maximumSize))
        mongoc_client_pool_set_appname(pool, options.appName)
        self.pool = pool
        self.connectionString = connectionString
        self.monitor = CommandMonitor()
        self.state = NIOLockedValueBox(StateMachine(maximumSize: options.maximumSize))
        self.threadPool = NIOThreadPool(numberOfThreads: options.maximumSize)
        threadPool.start()
        installCommandMonitoring()
    }

    deinit {
        // Only reached without shutdown(): no client can be out (leases and cursors
        // keep the pool alive), so destroying here cannot pull a client from under anyone.
        if !destroyed.withLockedValue({ $0 }) {
            mongoc_client_pool_destroy(pool)
            threadPool.shutdownGracefully { _ in }
        }
    }

    private func installCommandMonitoring() {
        let callbacks = mongoc_apm_callbacks_new()
        mongoc_apm_set_command_started_cb(callbacks) { event in
            guard let event, let context = mongoc_apm_command_started_get_context(event),
                  let name = mongoc_apm_command_started_get_command_name(event) else { return }
            Unmanaged<CommandMonitor>.fromOpaque(context).takeUnretainedValue()
                .record(.started, command: String(cString: name))
        }
        mongoc_apm_set_command_succeeded_cb(callbacks) { event in
            guard let event, let context = mongoc_apm_command_succeeded_get_context(event),
                  let name = mongoc_apm_command_succeeded_get_command_name(event) else { return }
            Unmanaged<CommandMonitor>.fromOpaque(context).takeUnretainedValue()
                .record(.succeeded, command: String(cString: name))
        }
        mongoc_apm_set_command_failed_cb(callbacks) { event in
            guard let event, let context = mongoc_apm_command_failed_get_context(event),
                  let name = mongoc_apm_command_failed_get_command_name(event) else { return }
            Unmanaged<CommandMonitor>.fromOpaque(context).takeUnretainedValue()
                .record(.failed, command: String(cString: name))
        }
        // The monitor lives as long as the pool, which holds it strongly.
        mongoc_client_pool_set_apm_callbacks(pool, callbacks, Unmanaged.passUnretained(monitor).toOpaque())
        mongoc_apm_callbacks_destroy(callbacks)
    }

    // MARK: Checking clients out

    /// Reserves a client, waiting (without blocking a thread) while all are in use. A
    /// caller whose task is cancelled while it waits stops waiting at once, with
    /// `CancellationError`, and leaves the queue.
    func lease(operation: String) async throws -> LeasedClient {
        switch state.withLockedValue({ $0.acquire() }) {
        case .proceed:
            break
        case .fail:
            throw MongoError.poolClosed(operation)
        case .wait:
            try await waitForSlot(operation: operation)
        }
        // Cannot block: the pool's size equals our slot count, and a client is pushed
        // back before its slot is released.
        let client = mongoc_client_pool_pop(pool)!
        return LeasedClient(pool: self, client: client)
    }

    /// Waits in the queue until `release` hands this caller a slot.
    private func waitForSlot(operation: String) async throws {
        let id = waiterIDs.withLockedValue { $0 += 1; return $0 }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // `Task.isCancelled` is read under the lock the cancellation handler
                // takes: a cancellation is either seen here (the caller is not queued) or
                // finds the waiter queued (and removes it).
                let action = state.withLockedValue { $0.enqueue(continuation, id: id, isCancelled: Task.isCancelled) }
                switch action {
                case .proceed: continuation.resume()
                case .queued: break
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .fail: continuation.resume(throwing: MongoError.poolClosed(operation))
                }
            }
        } onCancel: {
            // Not found when the waiter is not queued yet (see above) or was already
            // resumed with a slot, which it then keeps: resumed exactly once either way.
            if case .fail(let waiter) = state.withLockedValue({ $0.cancelWaiter(id: id) }) {
                waiter.resume(throwing: CancellationError())
            }
        }
    }

    fileprivate func giveBack(_ client: OpaquePointer) {
        mongoc_client_pool_push(pool, client)
        switch state.withLockedValue({ $0.release() }) {
        case .none: break
        case .resume(let waiter): waiter.resume()
        case .finishShutdown(let waiters): waiters.forEach { $0.resume() }
        }
    }

    /// Runs `body` with a client on one of the pool's threads. `body` must not let the
    /// client pointer escape.
    func withClient<T: Sendable>(
        operation: String, _ body: @escaping @Sendable (OpaquePointer) throws -> T
    ) async throws -> T {
        let lease = try await lease(operation: operation)
        defer { lease.release() }
        return try await lease.run(operation: operation, body)
    }

    func track(_ stream: ChangeStreamBox) {
        let closeNow = streams.withLockedValue { streams -> Bool in
            if streams.closed { return true }
            streams.open[ObjectIdentifier(stream)] = { [weak stream] in stream?.close(byShutdown: true) }
            return false
        }
        if closeNow { stream.close(byShutdown: true) }
    }

    func untrack(_ stream: ChangeStreamBox) {
        streams.withLockedValue { _ = $0.open.removeValue(forKey: ObjectIdentifier(stream)) }
    }

    // MARK: Shutdown

    /// Refuses new operations, closes open change streams (each gives its client back
    /// within its `maxAwaitTime`), waits for every checked-out client (open cursors
    /// included) to come back, then closes all connections. Safe to call twice.
    public func shutdown() async {
        let openStreams = streams.withLockedValue { streams in
            streams.closed = true
            defer { streams.open = [:] }
            return Array(streams.open.values)
        }
        openStreams.forEach { $0() }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let action = state.withLockedValue { $0.shutdown(continuation) }
            switch action {
            case .closeNow(let failing):
                failing.forEach { $0.resume(throwing: MongoError.poolClosed("checkout")) }
                continuation.resume()
            case .waitForClients(let failing):
                failing.forEach { $0.resume(throwing: MongoError.poolClosed("checkout")) }
            case .alreadyClosing:
                break
            case .alreadyClosed:
                continuation.resume()
            }
        }
        let first = destroyed.withLockedValue { wasDestroyed in
            defer { wasDestroyed = true }
            return !wasDestroyed
        }
        guard first else { return }
        // Destroying sends endSessions: blocking I/O, so on our own threads.
        _ = try? await threadPool.runIfActive { [self] in mongoc_client_pool_destroy(pool) }
        try? await threadPool.shutdownGracefully()
    }

    /// Callers waiting for a client, for tests.
    var waitingForClient: Int { state.withLockedValue { $0.waitingCount } }

    /// True once `shutdown()` has begun.
    public var isShutDown: Bool {
        state.withLockedValue { if case .open = $0.state { false } else { true } }
    }
}

/// One client checked out of the pool. Released exactly once; cursors hold one for
/// their whole life, since a cursor belongs to the connection that opened it.
final class LeasedClient: @unchecked Sendable {
    // @unchecked: the client is used by one operation at a time (callers serialize
    // their `run` calls), and `released` is lock-protected.
    let pool: MongoClientPool
    private let client: OpaquePointer
    private let released = NIOLockedValueBox(false)

    init(pool: MongoClientPool, client: OpaquePointer) {
        self.pool = pool
        self.client = client
    }

    func run<T: Sendable>(operation: String, _ body: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        do {
            return try await pool.threadPool.runIfActive { [self] in try body(self.client) }
        } catch is NIOThreadPoolError.ThreadPoolInactive {
            throw MongoError.poolClosed(operation)
        }
    }

    func release() {
        let first = released.withLockedValue { wasReleased in
            defer { wasReleased = true }
            return !wasReleased
        }
        if first { pool.giveBack(client) }
    }

    deinit { release() }
}
