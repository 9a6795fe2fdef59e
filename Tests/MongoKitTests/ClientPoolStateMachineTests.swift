@testable import MongoKit
import Testing

@Suite("Client pool state machine")
struct ClientPoolStateMachineTests {
    typealias Machine = ClientPoolStateMachine<String, String>

    @Test("hands out up to the maximum, then queues")
    func bounded() {
        var machine = Machine(maximumSize: 2)
        guard case .proceed = machine.acquire(), case .proceed = machine.acquire() else { Issue.record("first two must proceed"); return }
        guard case .wait = machine.acquire() else { Issue.record("third must wait"); return }
        #expect(machine.checkedOut == 2)
    }

    @Test("a released slot passes straight to the first waiter")
    func fifoHandOff() {
        var machine = Machine(maximumSize: 1)
        _ = machine.acquire()
        guard case .queued = machine.enqueue("a", id: 1, isCancelled: false),
              case .queued = machine.enqueue("b", id: 2, isCancelled: false) else { Issue.record("both must queue"); return }
        #expect(machine.waitingCount == 2)
        guard case .resume(let first) = machine.release() else { Issue.record("expected a resume"); return }
        #expect(first == "a")
        #expect(machine.checkedOut == 1)
        guard case .resume(let second) = machine.release() else { Issue.record("expected a resume"); return }
        #expect(second == "b")
        guard case .none = machine.release() else { Issue.record("expected nothing"); return }
        #expect(machine.checkedOut == 0)
    }

    @Test("shutdown with nothing out closes now and fails the queue")
    func shutdownIdle() {
        var machine = Machine(maximumSize: 1)
        guard case .closeNow(let failing) = machine.shutdown("s") else { Issue.record("expected closeNow"); return }
        #expect(failing.isEmpty)
        guard case .fail = machine.acquire() else { Issue.record("closed pool must refuse"); return }
    }

    @Test("shutdown waits for checked-out clients, then finishes on the last release")
    func shutdownWaits() {
        var machine = Machine(maximumSize: 2)
        _ = machine.acquire()
        _ = machine.acquire()
        _ = machine.enqueue("waiter", id: 1, isCancelled: false)
        guard case .waitForClients(let failing) = machine.shutdown("s1") else { Issue.record("expected wait"); return }
        #expect(failing == ["waiter"])
        guard case .alreadyClosing = machine.shutdown("s2") else { Issue.record("expected alreadyClosing"); return }
        guard case .fail = machine.acquire() else { Issue.record("closing pool must refuse"); return }
        guard case .none = machine.release() else { Issue.record("one still out"); return }
        guard case .finishShutdown(let woken) = machine.release() else { Issue.record("expected finish"); return }
        #expect(woken == ["s1", "s2"])
        guard case .alreadyClosed = machine.shutdown("s3") else { Issue.record("expected alreadyClosed"); return }
    }

    @Test("a cancelled waiter leaves the queue; the slot released later is not handed to it")
    func cancelQueued() {
        var machine = Machine(maximumSize: 1)
        _ = machine.acquire()
        _ = machine.enqueue("a", id: 1, isCancelled: false)
        _ = machine.enqueue("b", id: 2, isCancelled: false)
        guard case .fail(let cancelled) = machine.cancelWaiter(id: 1) else { Issue.record("a queued waiter must be failed"); return }
        #expect(cancelled == "a")
        #expect(machine.waitingCount == 1)
        guard case .resume(let next) = machine.release() else { Issue.record("the slot must go to the one still waiting"); return }
        #expect(next == "b")
        #expect(machine.checkedOut == 1)
    }

    @Test("the last waiter cancelled: the released slot goes back to the pool, free for the next caller")
    func cancelLastWaiter() {
        var machine = Machine(maximumSize: 1)
        _ = machine.acquire()
        _ = machine.enqueue("a", id: 1, isCancelled: false)
        _ = machine.cancelWaiter(id: 1)
        guard case .none = machine.release() else { Issue.record("no one waits any more"); return }
        #expect(machine.checkedOut == 0)
        guard case .proceed = machine.acquire() else { Issue.record("the slot must be free again"); return }
    }

    @Test("a cancellation that finds the waiter already resumed (or failed by shutdown) does nothing")
    func cancelAfterResume() {
        var machine = Machine(maximumSize: 1)
        _ = machine.acquire()
        _ = machine.enqueue("a", id: 1, isCancelled: false)
        guard case .resume = machine.release() else { Issue.record("expected a resume"); return }
        guard case .none = machine.cancelWaiter(id: 1) else { Issue.record("a resumed waiter keeps its slot"); return }
        #expect(machine.checkedOut == 1, "the slot stays with the resumed caller")

        _ = machine.enqueue("b", id: 2, isCancelled: false)
        _ = machine.shutdown("s")
        guard case .none = machine.cancelWaiter(id: 2) else { Issue.record("shutdown already failed it"); return }
        guard case .none = machine.cancelWaiter(id: 99) else { Issue.record("an unknown id changes nothing"); return }
    }

    @Test("a caller cancelled before it was queued is refused and takes no slot, even a free one")
    func cancelledBeforeQueued() {
        var machine = Machine(maximumSize: 1)
        _ = machine.acquire()
        // The cancellation handler ran first and found nothing to remove.
        guard case .none = machine.cancelWaiter(id: 1) else { Issue.record("nothing queued yet"); return }
        guard case .cancelled = machine.enqueue("a", id: 1, isCancelled: true) else { Issue.record("must be refused"); return }
        #expect(machine.waitingCount == 0)
        guard case .none = machine.release() else { Issue.record("no waiter to hand the slot to"); return }
        guard case .cancelled = machine.enqueue("b", id: 2, isCancelled: true) else { Issue.record("must be refused"); return }
        #expect(machine.checkedOut == 0, "a free slot is not taken by a cancelled caller")
    }

    @Test("between acquire and enqueue a slot may free (proceed) or the pool close (fail)")
    func enqueueLooksAgain() {
        var machine = Machine(maximumSize: 1)
        _ = machine.acquire()
        guard case .wait = machine.acquire() else { Issue.record("expected wait"); return }
        _ = machine.release()
        guard case .proceed = machine.enqueue("a", id: 1, isCancelled: false) else { Issue.record("the freed slot must be taken"); return }
        #expect(machine.checkedOut == 1)
        #expect(machine.waitingCount == 0)
        guard case .wait = machine.acquire() else { Issue.record("expected wait"); return }
        _ = machine.shutdown("s")
        guard case .fail = machine.enqueue("b", id: 2, isCancelled: false) else { Issue.record("a closing pool refuses"); return }
        #expect(machine.waitingCount == 0)
    }
}
