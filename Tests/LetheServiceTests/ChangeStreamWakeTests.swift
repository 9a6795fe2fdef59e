import BSON
import Foundation
@testable import LetheService
import LetheTestSupport
import Logging
import MongoKit
import NIOConcurrencyHelpers
import ServiceLifecycle
import Testing

/// Keeps every log line, to check what serve tells the operator.
final class RecordingLogHandler: LogHandler, Sendable {
    struct Line: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }

    let lines = NIOLockedValueBox<[Line]>([])

    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }

    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }

    subscript(metadataKey _: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    func log(event: LogEvent) {
        let entry = Line(level: event.level, message: event.message.description, metadata: (event.metadata ?? [:]).mapValues(\.description))
        lines.withLockedValue { $0.append(entry) }
    }

    var logger: Logger { Logger(label: "test") { _ in self } }
}

/// A change stream stand-in: the events it is given, then waits until closed.
final class FakeEventSource: ChangeEventSource {
    private let events = NIOLockedValueBox<[BSONDocument]>([])
    let closed = NIOLockedValueBox(false)
    let failAfterEvents: MongoError?

    init(events: [BSONDocument], failAfterEvents: MongoError? = nil) {
        self.events.withLockedValue { $0 = events }
        self.failAfterEvents = failAfterEvents
    }

    func next() async throws -> BSONDocument? {
        if let event = events.withLockedValue({ $0.isEmpty ? nil : $0.removeFirst() }) { return event }
        if let failAfterEvents { throw failAfterEvents }
        while !closed.withLockedValue({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
        return nil
    }

    func close() { closed.withLockedValue { $0 = true } }
}

@Suite("serve wakes on change streams (no server)")
struct ChangeStreamWakerTests {
    /// Collections on a pool that never connects: the stand-in opener never uses it.
    static func collections() throws -> (MongoClientPool, [MongoCollection]) {
        let pool = try MongoClientPool(uri: "mongodb://127.0.0.1:9/?directConnection=true")
        return (pool, [pool.database("lethe").collection("inbox"), pool.database("lethe").collection("requests")])
    }

    @Test("a server without change streams is reported once, at info level, and the waker steps aside")
    func refusalReportedOnce() async throws {
        let (pool, collections) = try Self.collections()
        let log = RecordingLogHandler()
        let refusal = MongoError(code: .changeStreamsUnavailable, operation: "watch", message: "the server does not offer change streams here",
                                 serverCode: 40573, detail: "The $changeStream stage is only supported on replica sets")
        let opened = NIOLockedValueBox(0)
        let waker = ChangeStreamWaker(collections: collections, logger: log.logger) { _, _, _ in
            opened.withLockedValue { $0 += 1 }
            throw refusal
        }
        let returned = try await finishes(within: .seconds(10)) { await waker.run(waking: WakeSignal()); return true }
        #expect(returned == true, "the waker kept going after a refusal")
        #expect(opened.withLockedValue { $0 } == 2, "each collection tried once, never again")
        let lines = log.lines.withLockedValue { $0 }
        #expect(lines.count == 1, "\(lines.map(\.message))")
        #expect(lines.first?.level == .info)
        #expect(lines.first?.message == "change streams are not available; serve falls back to polling")
        #expect(lines.first?.metadata["lethe.reason"]?.contains("server code 40573") == true)
        #expect(lines.first?.metadata["lethe.reason"]?.contains("replica sets") == false, "no server message in logs")
        await pool.shutdown()
    }

    @Test("a first refusal for another lasting reason falls back too; outages and later failures are retried")
    func classification() {
        let unauthorized = MongoError(code: .commandFailed, operation: "watch", message: "refused", serverCode: 13)
        let steppedDown = MongoError(code: .commandFailed, operation: "watch", message: "refused", serverCode: 10107)
        let network = MongoError(code: .connectionFailed, operation: "watch", message: "reset")
        let unavailable = MongoError(code: .changeStreamsUnavailable, operation: "watch", message: "none")
        #expect(ChangeStreamWaker.refusesChangeStreams(unauthorized, everOpened: false))
        #expect(!ChangeStreamWaker.refusesChangeStreams(unauthorized, everOpened: true))
        #expect(!ChangeStreamWaker.refusesChangeStreams(steppedDown, everOpened: false))
        #expect(!ChangeStreamWaker.refusesChangeStreams(network, everOpened: false))
        #expect(ChangeStreamWaker.refusesChangeStreams(unavailable, everOpened: true))
    }

    @Test("a failing stream is reopened with growing pauses; each opening and each event wakes the worker")
    func reopensWithBackoff() async throws {
        let (pool, collections) = try Self.collections()
        let log = RecordingLogHandler()
        let outage = MongoError(code: .connectionFailed, operation: "watch", message: "connection reset")
        let attempts = NIOLockedValueBox(0)
        let options = ChangeStreamWaker.Options(initialBackoff: .milliseconds(20), maximumBackoff: .milliseconds(80))
        let waker = ChangeStreamWaker(collections: [collections[0]], options: options, logger: log.logger) { _, _, _ in
            let attempt = attempts.withLockedValue { $0 += 1; return $0 }
            switch attempt {
            case 1, 2: throw outage
            case 3: return FakeEventSource(events: [["operationType": "insert"]], failAfterEvents: outage)
            default: return FakeEventSource(events: [["operationType": "insert"], ["operationType": "insert"]])
            }
        }
        let signal = WakeSignal()
        let task = Task { await waker.run(waking: signal) }
        let deadline = ContinuousClock.now + .seconds(30)
        while attempts.withLockedValue({ $0 }) < 4, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(attempts.withLockedValue { $0 } == 4)
        // Openings and events woke the worker (wakes coalesce, so one is pending).
        #expect(try await finishes(within: .seconds(30)) { try await signal.wait(timeout: .seconds(30)); return true } == true)
        task.cancel()
        #expect(try await finishes(within: .seconds(30)) { await task.value; return true } == true)
        let warnings = log.lines.withLockedValue { $0 }.filter { $0.level == .warning }
        #expect(warnings.count == 3)
        #expect(warnings.map { $0.metadata["lethe.retry-in"] } == ["0.02 seconds", "0.04 seconds", "0.02 seconds"],
                "the pause doubles, and starts over after an event")
        #expect(log.lines.withLockedValue { $0 }.contains { $0.message == "change stream reopened" })
        #expect(waker.backoff(afterFailures: 10) == .milliseconds(80))
        await pool.shutdown()
    }

    @Test("wakes coalesce, and a wake before the wait is not lost")
    func wakeSignal() async throws {
        let signal = WakeSignal()
        signal.wake()
        signal.wake()
        let clock = ContinuousClock()
        let start = clock.now
        try await signal.wait(timeout: .seconds(30))
        #expect(clock.now - start < .seconds(10), "a pending wake returns at once")
        // Both wakes were one: the next wait times out.
        let second = clock.now
        try await signal.wait(timeout: .milliseconds(200))
        #expect(clock.now - second >= .milliseconds(200))
        let waiter = Task { try await signal.wait(timeout: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(50))
        signal.wake()
        #expect(try await finishes(within: .seconds(10)) { try await waiter.value; return true } == true)
        let cancelled = Task { try await signal.wait(timeout: .seconds(30)) }
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
    }
}

@Suite("serve wakes on change streams (integration)", .enabled(if: TestServer.isConfigured, TestServer.skipReason), .serialized)
struct ChangeStreamWakeIntegrationTests {
    static func worker(_ fixture: TodoFixture, changeStreams: Bool, pollInterval: Duration, logger: Logger) -> WorkerService {
        let runtime = fixture.runtime
        let inbox = InboxConsumer(collection: runtime.pool.database(fixture.database.name + "_state").collection("inbox"),
                                  intake: RequestIntake(engine: runtime.engine))
        return WorkerService(
            pass: WorkerPass(worker: QueueWorker(engine: runtime.engine), inbox: inbox),
            waker: changeStreams ? ChangeStreamWaker(collections: [inbox.collection, runtime.state.requests], logger: logger) : nil,
            pollInterval: pollInterval, metrics: ServiceMetrics(state: runtime.state), logger: logger
        )
    }

    /// Runs `service` in a service group, as serve does (without signal handlers), and
    /// returns the group and the task running it.
    static func start(_ service: WorkerService) -> (ServiceGroup, Task<Void, any Error>) {
        let group = ServiceGroup(services: [service], logger: Logger(label: "test-group") { _ in SwiftLogNoOpLogHandler() })
        return (group, Task { try await group.run() })
    }

    /// Waits until `count` requests are done, for at most `deadline`.
    static func done(_ fixture: TodoFixture, count: Int, within deadline: Duration = .seconds(45)) async throws -> Bool {
        let end = ContinuousClock.now + deadline
        while ContinuousClock.now < end {
            if try await fixture.runtime.state.requests(states: [.done]).count >= count { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    @Test("with a 10 min poll, an inbox insert and a request recorded elsewhere are each done long before it (45 s, loose for a busy machine); a graceful shutdown ends it and its streams promptly")
    func wakesBeforePoll() async throws {
        try await TodoFixture.make().use { fixture in
            // A standalone server has none (the fallback is tested with a stand-in).
            guard try await TestServer.offersChangeStreams(fixture.runtime.pool) else { return }
            let log = RecordingLogHandler()
            let (group, running) = Self.start(Self.worker(fixture, changeStreams: true, pollInterval: .seconds(600), logger: log.logger))
            // The first pass runs at start; what follows is found only by a wake (the next
            // poll is 10 min away).
            try await Task.sleep(for: .seconds(1))
            let inbox = fixture.runtime.pool.database(fixture.database.name + "_state").collection("inbox")
            try await inbox.insertOne(appServicesEvent("alice-0001", identity: "alice-google-77", email: "alice@example.com"))
            #expect(try await Self.done(fixture, count: 1), "the inbox event was not done within 45 s")
            // Another process's intake (HTTP, lethe enqueue) records a request directly.
            _ = try await RequestIntake(engine: fixture.runtime.engine).receive(Array(cloudEvent("evt-bob", userId: "bob-0002").utf8), channel: .http)
            #expect(try await Self.done(fixture, count: 2), "the new request was not done within 45 s")

            // What SIGTERM does: the streams close, the batch in hand (if any) finishes.
            await group.triggerGracefulShutdown()
            let stopped = try await finishes(within: .seconds(15)) { try await running.value; return true }
            #expect(stopped == true, "the worker did not stop within 15 s of a graceful shutdown")
            let shutdown = try await finishes(within: .seconds(15)) { await fixture.tearDown(); return true }
            #expect(shutdown == true, "the pool did not shut down within 15 s: a stream kept its client")
            #expect(!log.lines.withLockedValue { $0 }.contains { $0.level >= .warning }, "\(log.lines.withLockedValue { $0 }.map { "\($0.message) \($0.metadata)" })")
            let text = log.lines.withLockedValue { $0 }.map { "\($0.message) \($0.metadata)" }.joined()
            #expect(!text.contains("alice") && !text.contains("@example.com"))
        }
    }

    @Test("without change streams the worker still finds new requests by polling")
    func pollingOnly() async throws {
        try await TodoFixture.make().use { fixture in
            let log = RecordingLogHandler()
            let (group, running) = Self.start(Self.worker(fixture, changeStreams: false, pollInterval: .milliseconds(300), logger: log.logger))
            try await Task.sleep(for: .seconds(1))
            let inbox = fixture.runtime.pool.database(fixture.database.name + "_state").collection("inbox")
            try await inbox.insertOne(appServicesEvent("alice-0001", identity: "alice-google-77", email: "alice@example.com"))
            #expect(try await Self.done(fixture, count: 1), "the inbox event was not done within 45 s")
            await group.triggerGracefulShutdown()
            #expect(try await finishes(within: .seconds(15)) { try await running.value; return true } == true)
        }
    }
}
