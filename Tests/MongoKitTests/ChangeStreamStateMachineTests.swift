import BSON
@testable import MongoKit
import Testing

@Suite("Change stream state machine")
struct ChangeStreamStateMachineTests {
    typealias Machine = ChangeStreamStateMachine<String>

    static let insert: BSONDocument = ["operationType": "insert", "_id": ["_data": "01"]]
    static let invalidate: BSONDocument = ["operationType": "invalidate", "_id": ["_data": "02"]]
    static let failure = MongoError(code: .connectionFailed, operation: "watch", message: "connection reset")

    /// Makes a new reader, waiting on `a` with a getMore in flight; returns its id.
    static func startWaiting(_ machine: inout Machine) -> Int {
        let reader = machine.newReader()
        #expect(machine.startWait(reader: reader, waiter: "a", isCancelled: false) == .startWait)
        return reader
    }

    /// Makes a new reader whose wait on `a` was empty, pausing before the next; returns its id.
    static func startPausing(_ machine: inout Machine) -> Int {
        let reader = startWaiting(&machine)
        #expect(machine.waitFinished(.empty, resumeToken: nil) == .resume("a", .waitAgain))
        return reader
    }

    // MARK: Reading

    @Test("a wait that brings an event hands it over and frees the stream for the next reader")
    func event() {
        var machine = Machine()
        let reader = Self.startWaiting(&machine)
        #expect(machine.state == .waiting(reader: reader, waiter: "a"))
        #expect(machine.waitFinished(.event(Self.insert), resumeToken: ["_data": "01"]) == .resume("a", .event(Self.insert)))
        #expect(machine.state == .idle)
        #expect(machine.resumeToken == ["_data": "01"])
        let next = machine.newReader()
        #expect(next != reader)
        #expect(machine.startWait(reader: next, waiter: "b", isCancelled: false) == .startWait)
        #expect(machine.state == .waiting(reader: next, waiter: "b"))
    }

    @Test("an empty wait: the reader pauses, still owning the stream, then waits again; the token moves on")
    func emptyWaitThenAgain() {
        var machine = Machine()
        let reader = Self.startWaiting(&machine)
        #expect(machine.waitFinished(.empty, resumeToken: ["_data": "05"]) == .resume("a", .waitAgain))
        #expect(machine.state == .pausing(reader: reader))
        #expect(machine.resumeToken == ["_data": "05"])
        #expect(machine.startWait(reader: reader, waiter: "a2", isCancelled: false) == .startWait)
        #expect(machine.state == .waiting(reader: reader, waiter: "a2"))
        // A wait that brings no token (an error) keeps the last one.
        _ = machine.waitFinished(.failed(Self.failure), resumeToken: nil)
        #expect(machine.resumeToken == ["_data": "05"])
    }

    @Test("invalidate: the reader gets the event, the stream closes, the next read ends (nil)")
    func invalidate() {
        var machine = Machine()
        _ = Self.startWaiting(&machine)
        #expect(machine.waitFinished(.invalidate(Self.invalidate), resumeToken: nil) == .closeStreamAndResume("a", .event(Self.invalidate)))
        #expect(machine.state == .closed(byShutdown: false))
        #expect(machine.startWait(reader: machine.newReader(), waiter: "b", isCancelled: false) == .resume("b", .end))
    }

    @Test("an error: the reader gets it, the stream closes, the next read ends (nil)")
    func error() {
        var machine = Machine()
        _ = Self.startWaiting(&machine)
        #expect(machine.waitFinished(.failed(Self.failure), resumeToken: nil) == .closeStreamAndResume("a", .failed(Self.failure)))
        #expect(machine.state == .closed(byShutdown: false))
        #expect(machine.startWait(reader: machine.newReader(), waiter: "b", isCancelled: false) == .resume("b", .end))
        #expect(machine.close(byShutdown: false) == .none, "closed once only")
    }

    // MARK: A second reader

    @Test("a second reader during a wait is refused and ends the stream; the first gets what its wait brings")
    func secondReaderWhileWaiting() {
        var machine = Machine()
        let reader = Self.startWaiting(&machine)
        #expect(machine.startWait(reader: machine.newReader(), waiter: "b", isCancelled: false) == .resume("b", .busy))
        #expect(machine.state == .closing(reader: reader, waiter: "a", byShutdown: false))
        #expect(machine.waitFinished(.event(Self.insert), resumeToken: nil) == .closeStreamAndResume("a", .event(Self.insert)))
        #expect(machine.state == .closed(byShutdown: false))
        #expect(machine.startWait(reader: machine.newReader(), waiter: "c", isCancelled: false) == .resume("c", .end))
    }

    @Test("a second reader while the first pauses is refused and ends the stream; the first's next wait ends (nil)")
    func secondReaderWhilePausing() {
        var machine = Machine()
        let reader = Self.startPausing(&machine)
        #expect(machine.startWait(reader: machine.newReader(), waiter: "b", isCancelled: false) == .closeStreamAndResume("b", .busy))
        #expect(machine.state == .closed(byShutdown: false))
        #expect(machine.startWait(reader: reader, waiter: "a2", isCancelled: false) == .resume("a2", .end))
    }

    @Test("a reader arriving while a closed stream's last wait is in flight gets the end")
    func readerWhileClosing() {
        var machine = Machine()
        _ = Self.startWaiting(&machine)
        _ = machine.close(byShutdown: false)
        #expect(machine.startWait(reader: machine.newReader(), waiter: "b", isCancelled: false) == .resume("b", .end))
        _ = machine.close(byShutdown: true)
        #expect(machine.startWait(reader: machine.newReader(), waiter: "c", isCancelled: true) == .resume("c", .cancelled))
    }

    // MARK: Closing

    @Test("close when idle frees the stream now; a second close does nothing; reads end (nil)")
    func closeIdle() {
        var machine = Machine()
        #expect(machine.close(byShutdown: false) == .closeStream)
        #expect(machine.state == .closed(byShutdown: false))
        #expect(machine.close(byShutdown: false) == .none)
        #expect(machine.close(byShutdown: true) == .none, "the first close decides")
        #expect(machine.startWait(reader: machine.newReader(), waiter: "a", isCancelled: false) == .resume("a", .end))
    }

    @Test("close during a wait waits for it: the handles are freed when it returns, once, however often close is called")
    func closeWhileWaiting() {
        var machine = Machine()
        let reader = Self.startWaiting(&machine)
        #expect(machine.close(byShutdown: false) == .none, "a getMore in flight cannot be interrupted")
        #expect(machine.state == .closing(reader: reader, waiter: "a", byShutdown: false))
        #expect(machine.close(byShutdown: false) == .none)
        #expect(machine.close(byShutdown: true) == .none)
        #expect(machine.waitFinished(.empty, resumeToken: nil) == .closeStreamAndResume("a", .end), "no wait again after close")
        #expect(machine.state == .closed(byShutdown: false))
        #expect(machine.close(byShutdown: false) == .none)
    }

    @Test("close during a wait that brings an event or an error still hands it to the reader")
    func closeWhileWaitingDelivers() {
        var machine = Machine()
        _ = Self.startWaiting(&machine)
        _ = machine.close(byShutdown: false)
        #expect(machine.waitFinished(.invalidate(Self.invalidate), resumeToken: nil) == .closeStreamAndResume("a", .event(Self.invalidate)))
        var other = Machine()
        _ = Self.startWaiting(&other)
        _ = other.close(byShutdown: false)
        #expect(other.waitFinished(.failed(Self.failure), resumeToken: nil) == .closeStreamAndResume("a", .failed(Self.failure)))
    }

    @Test("close while the reader pauses frees the stream now; its next wait ends (nil)")
    func closeWhilePausing() {
        var machine = Machine()
        let reader = Self.startPausing(&machine)
        #expect(machine.close(byShutdown: false) == .closeStream)
        #expect(machine.startWait(reader: reader, waiter: "a2", isCancelled: false) == .resume("a2", .end))
    }

    // MARK: Shutdown

    @Test("shutdown closes an idle or pausing stream now; readers then get the pool's error, not the end")
    func shutdownIdleOrPausing() {
        var idle = Machine()
        #expect(idle.close(byShutdown: true) == .closeStream)
        #expect(idle.state == .closed(byShutdown: true))
        #expect(idle.startWait(reader: idle.newReader(), waiter: "a", isCancelled: false) == .resume("a", .shutDown))

        var pausing = Machine()
        let reader = Self.startPausing(&pausing)
        #expect(pausing.close(byShutdown: true) == .closeStream)
        #expect(pausing.startWait(reader: reader, waiter: "a2", isCancelled: false) == .resume("a2", .shutDown))
    }

    @Test("shutdown during a wait: the client comes back when it returns; an empty wait then gives the pool's error")
    func shutdownWhileWaiting() {
        var machine = Machine()
        let reader = Self.startWaiting(&machine)
        #expect(machine.close(byShutdown: true) == .none)
        #expect(machine.state == .closing(reader: reader, waiter: "a", byShutdown: true))
        #expect(machine.close(byShutdown: false) == .none)
        #expect(machine.state == .closing(reader: reader, waiter: "a", byShutdown: true), "the first close decides")
        #expect(machine.waitFinished(.empty, resumeToken: nil) == .closeStreamAndResume("a", .shutDown))
        #expect(machine.state == .closed(byShutdown: true))
    }

    @Test("a stream closed by its user before the shutdown still ends with nil")
    func closeThenShutdown() {
        var machine = Machine()
        _ = Self.startWaiting(&machine)
        _ = machine.close(byShutdown: false)
        _ = machine.close(byShutdown: true)
        #expect(machine.waitFinished(.empty, resumeToken: nil) == .closeStreamAndResume("a", .end))
    }

    // MARK: Cancellation

    @Test("cancellation during a wait ends it at once and closes the stream; the client comes back when the getMore returns")
    func cancelWhileWaiting() {
        var machine = Machine()
        let reader = Self.startWaiting(&machine)
        #expect(machine.cancel(reader: reader) == .resume("a", .cancelled))
        #expect(machine.state == .closing(reader: reader, waiter: nil, byShutdown: false))
        #expect(machine.cancel(reader: reader) == .none, "resumed once")
        #expect(machine.close(byShutdown: true) == .none)
        #expect(machine.waitFinished(.event(Self.insert), resumeToken: nil) == .closeStream, "no one to hand the event to")
        #expect(machine.state == .closed(byShutdown: false))
        #expect(machine.startWait(reader: machine.newReader(), waiter: "b", isCancelled: false) == .resume("b", .end))
    }

    @Test("cancellation after a close during the wait still ends the wait at once")
    func cancelWhileClosing() {
        var machine = Machine()
        let reader = Self.startWaiting(&machine)
        _ = machine.close(byShutdown: true)
        #expect(machine.cancel(reader: reader) == .resume("a", .cancelled))
        #expect(machine.state == .closing(reader: reader, waiter: nil, byShutdown: true))
        #expect(machine.waitFinished(.empty, resumeToken: nil) == .closeStream)
        #expect(machine.state == .closed(byShutdown: true))
    }

    @Test("cancellation while the reader pauses closes the stream now")
    func cancelWhilePausing() {
        var machine = Machine()
        let reader = Self.startPausing(&machine)
        #expect(machine.cancel(reader: reader) == .closeStream)
        #expect(machine.state == .closed(byShutdown: false))
        // Its sleep ends with CancellationError, or, if it had ended, the next wait sees it.
        #expect(machine.startWait(reader: reader, waiter: "a2", isCancelled: true) == .resume("a2", .cancelled))
    }

    @Test("cancellation before the first wait: the handler finds nothing, the wait sees it and closes the stream")
    func cancelBeforeWait() {
        var machine = Machine()
        let reader = machine.newReader()
        #expect(machine.cancel(reader: reader) == .none)
        #expect(machine.state == .idle)
        #expect(machine.startWait(reader: reader, waiter: "a", isCancelled: true) == .closeStreamAndResume("a", .cancelled))
        #expect(machine.state == .closed(byShutdown: false))
    }

    @Test("a cancelled reader that finds the owner waiting, pausing, or the stream closed throws CancellationError")
    func cancelledSecondReader() {
        var waiting = Machine()
        let owner = Self.startWaiting(&waiting)
        #expect(waiting.startWait(reader: waiting.newReader(), waiter: "b", isCancelled: true) == .resume("b", .cancelled))
        #expect(waiting.state == .closing(reader: owner, waiter: "a", byShutdown: false))
        var pausing = Machine()
        _ = Self.startPausing(&pausing)
        #expect(pausing.startWait(reader: pausing.newReader(), waiter: "b", isCancelled: true) == .closeStreamAndResume("b", .cancelled))
        var closed = Machine()
        _ = closed.close(byShutdown: true)
        #expect(closed.startWait(reader: closed.newReader(), waiter: "b", isCancelled: true) == .resume("b", .cancelled))
    }

    @Test("another reader's cancellation, or one that comes after the reply, leaves the stream alone")
    func cancelOfOthersOrLate() {
        var machine = Machine()
        let reader = Self.startWaiting(&machine)
        #expect(machine.cancel(reader: reader + 1) == .none)
        #expect(machine.state == .waiting(reader: reader, waiter: "a"))
        _ = machine.waitFinished(.event(Self.insert), resumeToken: nil)
        #expect(machine.cancel(reader: reader) == .none, "the reader already has its event")
        #expect(machine.state == .idle)
        var pausing = Machine()
        let owner = Self.startPausing(&pausing)
        #expect(pausing.cancel(reader: owner + 1) == .none)
        #expect(pausing.state == .pausing(reader: owner))
    }

    // MARK: Misuse

    @Test("a wait that finishes without having started is a programming error")
    func finishWithoutWait() async {
        await #expect(processExitsWith: .failure) {
            var machine = ChangeStreamStateMachine<String>()
            _ = machine.waitFinished(.empty, resumeToken: nil)
        }
    }
}
