@testable import LetheCore
import Testing

@Suite("Request lifecycle")
struct RequestLifecycleTests {
    typealias S = ErasureRequest.State

    @Test("the happy path: received, running, done")
    func happy() throws {
        #expect(try RequestLifecycle.next(.received, on: .start) == .running)
        #expect(try RequestLifecycle.next(.running, on: .finish) == .done)
    }

    @Test("a hold stops a request until it is lifted")
    func hold() throws {
        #expect(try RequestLifecycle.next(.received, on: .holdFound) == .held)
        #expect(try RequestLifecycle.next(.held, on: .holdFound) == .held)
        #expect(try RequestLifecycle.next(.held, on: .holdLifted) == .received)
        #expect(throws: RequestLifecycle.InvalidTransition.self) { try RequestLifecycle.next(.held, on: .start) }
    }

    @Test("over the limit waits for approval, and approval lets it start")
    func approval() throws {
        #expect(try RequestLifecycle.next(.received, on: .overLimit) == .needsApproval)
        #expect(try RequestLifecycle.next(.needsApproval, on: .approved) == .received)
        #expect(throws: RequestLifecycle.InvalidTransition.self) { try RequestLifecycle.next(.needsApproval, on: .start) }
    }

    @Test("failed requests retry; done is final")
    func terminal() throws {
        #expect(try RequestLifecycle.next(.running, on: .fail) == .failed)
        #expect(try RequestLifecycle.next(.failed, on: .retry) == .received)
        for event in [RequestLifecycle.Event.start, .fail, .retry, .holdFound, .overLimit, .finish] {
            #expect(throws: RequestLifecycle.InvalidTransition.self) { try RequestLifecycle.next(.done, on: event) }
        }
    }
}
