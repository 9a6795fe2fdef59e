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
        machine.enqueue("a", id: 1)
        machine.enqueue("b", id: 2)
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
        machine.enqueue("waiter", id: 1)
        guard case .waitForClients(let failing) = machine.shutdown("s1") else { Issue.record("expected wait"); return }
        #expect(failing == ["waiter"])
        guard case .alreadyClosing = machine.shutdown("s2") else { Issue.record("expected alreadyClosing"); return }
        guard case .fail = machine.acquire() else { Issue.record("closing pool must refuse"); return }
        guard case .none = machine.release() else { Issue.record("one still out"); return }
        guard case .finishShutdown(let woken) = machine.release() else { Issue.record("expected finish"); return }
        #expect(woken == ["s1", "s2"])
        guard case .alreadyClosed = machine.shutdown("s3") else { Issue.record("expected alreadyClosed"); return }
    }

    @Test("a cancelled waiter leaves the queue")
    func cancel() {
        var machine = Machine(maximumSize: 1)
        _ = machine.acquire()
        machine.enqueue("a", id: 1)
        #expect(machine.cancelWaiter(id: 1) == "a")
        #expect(machine.cancelWaiter(id: 1) == nil)
        guard case .none = machine.release() else { Issue.record("queue should be empty"); return }
    }
}
