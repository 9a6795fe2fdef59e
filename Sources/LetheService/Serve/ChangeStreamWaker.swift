import BSON
import LetheCore
import Logging
import MongoKit
import NIOConcurrencyHelpers

/// Wakes the worker as soon as something is inserted into the inbox or the request
/// queue (by `lethe enqueue`, another process's HTTP intake, a trigger), through one
/// change stream on each collection.
///
/// A stream only says "look now": every pass reads the inbox and the queue whole, so
/// nothing depends on seeing each event. Polling stays the safety net for what is
/// inserted while a stream is down, and each (re)opened stream asks for one pass, which
/// finds anything inserted while none was open. A server that refuses change streams
/// (a standalone server) is told once, at info level, and serve keeps polling; a
/// stream that fails later is reopened with backoff.
///
/// Collection streams rather than one database stream: they are what every server
/// offering change streams delivers (see docs/test-server.md), and the inbox may be in
/// another database. Each holds one pooled client while open.
struct ChangeStreamWaker: Sendable {
    struct Options: Sendable {
        /// Each wait on the server; bounds how long shutdown waits for a stream.
        /// Default 1 s.
        var maxAwaitTime: Duration
        /// Pause before reopening a failed stream, doubled at each failure in a row.
        /// Default 1 s.
        var initialBackoff: Duration
        /// Longest pause between reopenings. Default 60 s.
        var maximumBackoff: Duration

        init(maxAwaitTime: Duration = .seconds(1), initialBackoff: Duration = .seconds(1), maximumBackoff: Duration = .seconds(60)) {
            self.maxAwaitTime = maxAwaitTime
            self.initialBackoff = initialBackoff
            self.maximumBackoff = maximumBackoff
        }
    }

    /// Opens a stream: `MongoCollection.watch`, or a stand-in in tests.
    typealias Opener = @Sendable (MongoCollection, [BSONDocument], ChangeStreamOptions) async throws -> any ChangeEventSource

    let collections: [MongoCollection]
    let options: Options
    let logger: Logger
    let open: Opener

    init(collections: [MongoCollection], options: Options = Options(), logger: Logger,
         open: @escaping Opener = { try await $0.watch($1, options: $2) }) {
        self.collections = collections
        self.options = options
        self.logger = logger
        self.open = open
    }

    /// Only inserts matter (a new event, a new request). The projection keeps inbox
    /// bodies, which hold personal data, on the server. `invalidate` (the collection
    /// was dropped or renamed) ends a stream, and is let through so that it is reopened.
    static let pipeline: [BSONDocument] = [
        ["$match": ["operationType": ["$in": ["insert", "invalidate"]]]],
        ["$project": ["operationType": 1]],
    ]

    /// Watches until cancelled, or until the server turns out not to offer change streams.
    func run(waking signal: WakeSignal) async {
        let fallbackReported = NIOLockedValueBox(false)
        await withTaskGroup(of: Void.self) { group in
            for collection in collections {
                group.addTask { await watch(collection, waking: signal, fallbackReported: fallbackReported) }
            }
        }
    }

    private func watch(_ collection: MongoCollection, waking signal: WakeSignal, fallbackReported: NIOLockedValueBox<Bool>) async {
        let clock = ContinuousClock()
        let namespace: Logger.MetadataValue = .string(collection.namespace)
        var failures = 0
        var everOpened = false
        while !Task.isCancelled {
            var openedAt: ContinuousClock.Instant?
            do {
                let stream = try await open(collection, Self.pipeline, ChangeStreamOptions(maxAwaitTime: options.maxAwaitTime))
                defer { stream.close() }
                openedAt = clock.now
                if failures > 0 { logger.info("change stream reopened", metadata: [LogKey.namespace: namespace]) }
                everOpened = true
                signal.wake()
                while try await stream.next() != nil {
                    failures = 0
                    signal.wake()
                }
            } catch is CancellationError {
                return
            } catch let error as MongoError where error.code == .poolClosed {
                return
            } catch let error as MongoError where Self.refusesChangeStreams(error, everOpened: everOpened) {
                let first = fallbackReported.withLockedValue { reported in
                    defer { reported = true }
                    return !reported
                }
                if first {
                    logger.info("change streams are not available; serve falls back to polling", metadata: [
                        LogKey.namespace: namespace, LogKey.reason: .string("\(error)"),
                    ])
                }
                return
            } catch {
                // A stream that lived a while failed once: start the backoff over.
                if let openedAt, clock.now - openedAt > options.maximumBackoff { failures = 0 }
                failures += 1
                let delay = backoff(afterFailures: failures)
                logger.warning("change stream failed; reopening it after a pause, polling meanwhile", metadata: [
                    LogKey.namespace: namespace, LogKey.reason: .string("\(error)"), LogKey.retryIn: .stringConvertible(delay),
                ])
                do { try await Task.sleep(for: delay) } catch { return }
            }
        }
    }

    /// A refusal, not an outage: the server answered that it has no change streams, or
    /// refused the very first one for another lasting reason (such as a missing
    /// privilege). Outages (network, elections) are retried instead.
    static func refusesChangeStreams(_ error: MongoError, everOpened: Bool) -> Bool {
        if error.code == .changeStreamsUnavailable { return true }
        return !everOpened && error.code == .commandFailed && !error.isRetriable
    }

    func backoff(afterFailures failures: Int) -> Duration {
        var delay = options.initialBackoff
        for _ in 1..<max(1, failures) where delay < options.maximumBackoff { delay *= 2 }
        return min(delay, options.maximumBackoff)
    }
}

/// The events of one change stream, as the waker reads them.
protocol ChangeEventSource: Sendable {
    /// The next event; nil when the stream has ended.
    func next() async throws -> BSONDocument?
    func close()
}

extension MongoChangeStream: ChangeEventSource {}
