import BSON

/// The life of a change stream, as a value type with no I/O so that every transition can
/// be tested on its own (`ChangeStreamBox` holds it under a lock and does what each
/// `Action` says).
///
/// One reader at a time: each `next()` call is a reader with its own id, and owns the
/// stream from its first wait until it returns. A getMore cannot be interrupted (the
/// handles are not thread-safe and libmongoc has no cancel), so a close or a
/// cancellation during one only marks the stream; the handles are destroyed and the
/// client goes back to the pool when the getMore returns.
struct ChangeStreamStateMachine<Waiter> {
    enum State {
        /// Open; no reader.
        case idle
        /// `reader`'s last wait brought nothing: it pauses (`minimumWaitInterval`) before
        /// waiting again, and still owns the stream.
        case pausing(reader: Int)
        /// A getMore is in flight for `reader`, who waits on `waiter`.
        case waiting(reader: Int, waiter: Waiter)
        /// Closed while a getMore was in flight: it ends the stream when it returns.
        /// `waiter` is nil once the reader was cancelled (it no longer waits).
        case closing(reader: Int, waiter: Waiter?, byShutdown: Bool)
        /// Closed: the handles are destroyed (or being destroyed) and the client returned.
        /// After `MongoClientPool.shutdown()` readers get an error, else the end.
        case closed(byShutdown: Bool)
    }

    /// What one getMore gave.
    enum WaitResult {
        case event(BSONDocument)
        /// The collection was dropped or renamed: the server has closed the stream.
        case invalidate(BSONDocument)
        /// Nothing happened within `maxAwaitTime`.
        case empty
        case failed(MongoError)
    }

    /// What a reader's wait ends with (a type of its own: the waiter, a continuation,
    /// is generic over it).
    typealias Reply = ChangeStreamReply

    enum Action {
        case none
        /// Run one getMore on the pool's threads, then report `waitFinished`.
        case startWait
        /// Resume `waiter` with the reply.
        case resume(Waiter, Reply)
        /// The stream is closed and nothing is in flight: destroy the handles, stop
        /// tracking it and return the client to the pool.
        case closeStream
        /// `closeStream`, then resume `waiter` with the reply.
        case closeStreamAndResume(Waiter, Reply)
    }

    private(set) var state: State = .idle
    /// The token of the last wait that brought one.
    private(set) var resumeToken: BSONDocument?
    private var lastReader = 0

    /// An id for a new `next()` call, the reader that `startWait` and `cancel` name.
    mutating func newReader() -> Int {
        lastReader += 1
        return lastReader
    }

    /// `reader` asks for its next wait, with `waiter` to be resumed when it ends.
    /// `isCancelled` is its task's, read under the same lock as `cancel(reader:)` runs,
    /// so a cancellation is either seen here or finds the waiter stored.
    mutating func startWait(reader: Int, waiter: Waiter, isCancelled: Bool) -> Action {
        switch state {
        case .idle:
            if isCancelled { return close(answering: waiter, with: .cancelled) }
            state = .waiting(reader: reader, waiter: waiter)
            return .startWait
        case .pausing(let owner):
            // A second reader ends the stream, as cancelling the owner does.
            if owner != reader || isCancelled { return close(answering: waiter, with: isCancelled ? .cancelled : .busy) }
            state = .waiting(reader: reader, waiter: waiter)
            return .startWait
        case .waiting(let owner, let ownerWaiter):
            precondition(owner != reader, "a reader started a second wait while its first was in flight")
            // The owner's getMore cannot be stopped: it ends the stream when it returns.
            state = .closing(reader: owner, waiter: ownerWaiter, byShutdown: false)
            return .resume(waiter, isCancelled ? .cancelled : .busy)
        case .closing(let owner, _, let byShutdown):
            precondition(owner != reader, "a reader started a second wait while its first was in flight")
            return .resume(waiter, isCancelled ? .cancelled : Self.ending(byShutdown))
        case .closed(let byShutdown):
            return .resume(waiter, isCancelled ? .cancelled : Self.ending(byShutdown))
        }
    }

    /// The getMore in flight returned (on a pool thread).
    mutating func waitFinished(_ result: WaitResult, resumeToken token: BSONDocument?) -> Action {
        if let token { resumeToken = token }
        switch state {
        case .waiting(let reader, let waiter):
            switch result {
            case .event(let event):
                state = .idle
                return .resume(waiter, .event(event))
            case .empty:
                state = .pausing(reader: reader)
                return .resume(waiter, .waitAgain)
            case .invalidate(let event):
                // The reader still gets the invalidate event; the next read ends.
                state = .closed(byShutdown: false)
                return .closeStreamAndResume(waiter, .event(event))
            case .failed(let error):
                // libmongoc has already resumed once where the error allowed it.
                state = .closed(byShutdown: false)
                return .closeStreamAndResume(waiter, .failed(error))
            }
        case .closing(_, let waiter, let byShutdown):
            state = .closed(byShutdown: byShutdown)
            guard let waiter else { return .closeStream }
            switch result {
            // An event read is handed over: the resume token has already moved past it.
            case .event(let event), .invalidate(let event): return .closeStreamAndResume(waiter, .event(event))
            case .empty: return .closeStreamAndResume(waiter, Self.ending(byShutdown))
            case .failed(let error): return .closeStreamAndResume(waiter, .failed(error))
            }
        case .idle, .pausing, .closed:
            preconditionFailure("a wait finished that was not started")
        }
    }

    /// `reader`'s task was cancelled. Its wait, if it is waiting, ends at once; the
    /// stream closes (when the getMore in flight returns, if one is).
    mutating func cancel(reader: Int) -> Action {
        switch state {
        case .pausing(let owner) where owner == reader:
            state = .closed(byShutdown: false)
            return .closeStream
        case .waiting(let owner, let waiter) where owner == reader:
            state = .closing(reader: owner, waiter: nil, byShutdown: false)
            return .resume(waiter, .cancelled)
        case .closing(let owner, let waiter?, let byShutdown) where owner == reader:
            state = .closing(reader: owner, waiter: nil, byShutdown: byShutdown)
            return .resume(waiter, .cancelled)
        case .idle, .pausing, .waiting, .closing, .closed:
            // Not waiting: not yet (`startWait` sees the cancellation), no longer (it
            // has its reply), or another reader's stream (this one never owned it).
            return .none
        }
    }

    /// `close()`, or `MongoClientPool.shutdown()` (`byShutdown`). The first close
    /// decides what readers get afterwards.
    mutating func close(byShutdown: Bool) -> Action {
        switch state {
        case .idle, .pausing:
            state = .closed(byShutdown: byShutdown)
            return .closeStream
        case .waiting(let reader, let waiter):
            state = .closing(reader: reader, waiter: waiter, byShutdown: byShutdown)
            return .none
        case .closing, .closed:
            return .none
        }
    }

    /// Closes the stream from `idle` or `pausing` and answers `waiter`.
    private mutating func close(answering waiter: Waiter, with reply: Reply) -> Action {
        state = .closed(byShutdown: false)
        return .closeStreamAndResume(waiter, reply)
    }

    private static func ending(_ byShutdown: Bool) -> Reply { byShutdown ? .shutDown : .end }
}

// Compared whole in the tests; the box never compares them.
extension ChangeStreamStateMachine.State: Equatable where Waiter: Equatable {}
extension ChangeStreamStateMachine.Action: Equatable where Waiter: Equatable {}
