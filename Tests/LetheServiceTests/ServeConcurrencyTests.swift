import BSON
import Foundation
import LetheCore
@testable import LetheService
import LetheTestSupport
import Logging
import MongoKit
import Testing

@Suite("serve --concurrency (integration)", .enabled(if: TestServer.isConfigured, TestServer.skipReason))
struct ServeConcurrencyTests {
    @Test("three lanes drain one backlog side by side: each request done once, by one lane")
    func lanes() async throws {
        let users = 90
        try await QueueWorkerIntegrationTests.fixture(users: users).use { fixture in
            try await fixture.queue(users: users)
            let runtime = fixture.runtime
            let service = WorkerService(
                pass: WorkerPass(worker: QueueWorker(engine: runtime.engine, options: .init(owner: "serve", requestsPerBatch: 10)),
                                 inbox: nil, lanes: 3),
                waker: nil, pollInterval: .seconds(60), metrics: ServiceMetrics(state: runtime.state),
                logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
            )
            let summary = try await service.runPass().queue
            #expect(summary.count(.done) == users)
            let requests = try await runtime.state.requests(limit: 1000)
            #expect(requests.count == users)
            #expect(requests.allSatisfy { $0.state == .done && $0.attempts == 1 && $0.lease == nil })
            #expect(try await fixture.database.collection("notes").find().toArray().map { $0["owner"] } == ["survivor"])
            #expect(summary.processed == users, "the lanes' figures add up, each request once")
        }
    }

    @Test("the pool grows by one client per lane beyond the first")
    func clients() {
        #expect(LetheServer.clientsHeld(by: .init(changeStreams: .off, concurrency: 1)) == 0)
        #expect(LetheServer.clientsHeld(by: .init(changeStreams: .off, concurrency: 4)) == 3)
        #expect(LetheServer.clientsHeld(by: .init(changeStreams: .auto, concurrency: 2)) == 3)
    }
}
