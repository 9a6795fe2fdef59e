/// The bookkeeping of the client pool, as a value type with no I/O so that it can be
/// tested on its own. It counts clients checked out, queues callers when the pool is
/// full (instead of blocking a thread in `mongoc_client_pool_pop`), lets a queued caller
/// whose task is cancelled leave the queue, and closes the pool only when every client
/// has come back.
struct ClientPoolStateMachine<Waiter, ShutdownWaiter> {
    enum State {
        case open
        case closing
        case closed
    }

    enum AcquireAction {
        /// A client slot is reserved for the caller.
        case proceed
        /// The pool is full; the caller waits until `release` hands it a slot.
        case wait
        /// The pool is closing or closed.
        case fail
    }

    enum EnqueueAction {
        /// A slot freed since `acquire` said wait: it is reserved for the caller.
        case proceed
        /// Queued: `release` hands it a slot, or `shutdown` or `cancelWaiter` fails it.
        case queued
        /// The caller's task was cancelled before it could be queued: it throws
        /// `CancellationError` and holds no slot.
        case cancelled
        /// The pool closed since `acquire` said wait.
        case fail
    }

    enum CancelWaiterAction {
        /// The waiter was still queued and is removed: resume it with `CancellationError`.
        case fail(Waiter)
        /// It is not queued: not yet (`enqueue` sees the cancellation and refuses it), or
        /// no longer (`release` handed it a slot, or `shutdown` failed it, and resumes it).
        case none
    }

    enum ReleaseAction {
        case none
        /// Hand the freed slot to this waiter.
        case resume(Waiter)
        /// The last client came back during shutdown: destroy the pool, then wake these.
        case finishShutdown([ShutdownWaiter])
    }

    enum ShutdownAction {
        /// Nothing is checked out: destroy the pool now; fail the queued callers.
        case closeNow(failing: [Waiter])
        /// Clients are out: wait for them; fail the queued callers.
        case waitForClients(failing: [Waiter])
        /// Already closing or closed: just wait for (or skip) the end.
        case alreadyClosing
        case alreadyClosed
    }

    private(set) var state: State = .open
    private(set) var checkedOut = 0
    private var waiters: [(id: Int, waiter: Waiter)] = []
    private var shutdownWaiters: [ShutdownWaiter] = []
    let maximumSize: Int

    init(maximumSize: Int) {
        precondition(maximumSize > 0, "a pool needs at least one client")
        self.maximumSize = maximumSize
    }

    var waitingCount: Int { waiters.count }

    mutating func acquire() -> AcquireAction {
        guard case .open = state else { return .fail }
        if checkedOut < maximumSize {
            checkedOut += 1
            return .proceed
        }
        return .wait
    }

    /// Queues a caller that `acquire` told to wait, once its waiter exists. The pool may
    /// have changed in between, and the caller's task may have been cancelled before its
    /// cancellation handler could find the waiter queued: both are looked at here.
    mutating func enqueue(_ waiter: Waiter, id: Int, isCancelled: Bool) -> EnqueueAction {
        // Cancelled first: a caller that gave up must not take a slot it will not use.
        if isCancelled { return .cancelled }
        switch acquire() {
        case .proceed: return .proceed
        case .fail: return .fail
        case .wait:
            waiters.append((id, waiter))
            return .queued
        }
    }

    /// A waiting caller's task was cancelled: it leaves the queue, so that no slot is
    /// later handed to a caller that no longer waits (and lost with it).
    mutating func cancelWaiter(id: Int) -> CancelWaiterAction {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return .none }
        return .fail(waiters.remove(at: index).waiter)
    }

    mutating func release() -> ReleaseAction {
        precondition(checkedOut > 0, "released a client that was not checked out")
        if case .open = state, !waiters.isEmpty {
            // The slot passes straight to the next caller: checkedOut stays the same.
            return .resume(waiters.removeFirst().waiter)
        }
        checkedOut -= 1
        if case .closing = state, checkedOut == 0 {
            state = .closed
            let toWake = shutdownWaiters
            shutdownWaiters = []
            return .finishShutdown(toWake)
        }
        return .none
    }

    mutating func shutdown(_ waiter: ShutdownWaiter) -> ShutdownAction {
        switch state {
        case .closed:
            return .alreadyClosed
        case .closing:
            shutdownWaiters.append(waiter)
            return .alreadyClosing
        case .open:
            let failing = waiters.map(\.waiter)
            waiters = []
            if checkedOut == 0 {
                state = .closed
                return .closeNow(failing: failing)
            }
            state = .closing
            shutdownWaiters.append(waiter)
            return .waitForClients(failing: failing)
        }
    }
}
