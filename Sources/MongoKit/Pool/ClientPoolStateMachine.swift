/// The bookkeeping of the client pool, as a value type with no I/O so that it can be
/// tested on its own. It counts clients checked out, queues callers when the pool is
/// full (instead of blocking a thread in `mongoc_client_pool_pop`), and closes the
/// pool only when every client has come back.
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

    mutating func enqueue(_ waiter: Waiter, id: Int) {
        waiters.append((id, waiter))
    }

    /// Removes a waiter that gave up (task cancelled); nil if it was already resumed.
    mutating func cancelWaiter(id: Int) -> Waiter? {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return nil }
        return waiters.remove(at: index).waiter
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
