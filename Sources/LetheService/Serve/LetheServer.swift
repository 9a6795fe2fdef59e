import Foundation
import Hummingbird
import LetheCore
import Logging
import ServiceLifecycle

/// `lethe serve`, assembled: the queue worker, the scheduled sweeps and the HTTP
/// intake, in one `ServiceGroup` that stops cleanly on SIGTERM/SIGINT: the batch in
/// hand is finished and its leases given back, then the process exits.
public enum LetheServer {
    /// Whether the worker also watches change streams to wake before its next poll.
    public enum ChangeStreamMode: String, Sendable, CaseIterable {
        /// Use them where the server offers them; poll only otherwise.
        case auto
        /// Poll only.
        case off
    }

    public struct Options: Sendable {
        /// How often the worker looks for new requests and inbox events. Default 5 s.
        /// With change streams it also looks as soon as either gets an insert.
        public var pollInterval: Duration
        /// Change streams on the inbox and the request queue. Default `.auto`.
        public var changeStreams: ChangeStreamMode
        /// When to run the retention sweeps (UTC). Default: none.
        public var sweepSchedules: [CronSchedule]
        /// When to run the orphan sweep (UTC); its requests go to the worker. Default: none.
        public var orphanSweepSchedules: [CronSchedule]
        /// The orphan sweep's limits. Default: `OrphanSweeper.Options()`.
        public var orphanOptions: OrphanSweeper.Options
        /// When to run the restore sweep (UTC); its requests go to the worker. Default: none.
        public var restoreSweepSchedules: [CronSchedule]
        /// The restore sweep's limits. Default: `RestoreSweeper.Options()` (no `since`).
        public var restoreOptions: RestoreSweeper.Options
        /// The HTTP intake; nil to run without it. Default nil.
        public var http: HTTPIntake.Options?
        public var worker: QueueWorker.Options
        /// Batches erased at once, each under its own leases. Default 1.
        public var concurrency: Int

        public init(pollInterval: Duration = .seconds(5), changeStreams: ChangeStreamMode = .auto, sweepSchedules: [CronSchedule] = [],
                    orphanSweepSchedules: [CronSchedule] = [], orphanOptions: OrphanSweeper.Options = .init(),
                    restoreSweepSchedules: [CronSchedule] = [], restoreOptions: RestoreSweeper.Options = .init(),
                    http: HTTPIntake.Options? = nil, worker: QueueWorker.Options = .init(), concurrency: Int = 1) {
            self.pollInterval = pollInterval
            self.changeStreams = changeStreams
            self.sweepSchedules = sweepSchedules
            self.orphanSweepSchedules = orphanSweepSchedules
            self.orphanOptions = orphanOptions
            self.restoreSweepSchedules = restoreSweepSchedules
            self.restoreOptions = restoreOptions
            self.http = http
            self.worker = worker
            self.concurrency = max(concurrency, 1)
        }
    }

    /// Pooled clients that serve needs beyond the usual: one per change stream (the
    /// inbox, the request queue) and one per batch erased at once beyond the first.
    /// Add them to the pool size.
    public static func clientsHeld(by options: Options) -> Int {
        (options.changeStreams == .off ? 0 : 2) + options.concurrency - 1
    }

    /// Assembles `lethe serve` from its configuration: the worker (inbox, then queue, at
    /// each poll or wake), the scheduled sweeps and HTTP. Throws when the HTTP credentials
    /// are unusable (`CredentialError`, which says what to do).
    public static func build(configuration: ServeConfiguration, runtime: LetheRuntime, logger: Logger) throws -> ServiceGroup {
        var options = configuration.options
        if let http = configuration.http {
            let authentication = try http.authentication()
            options.http = HTTPIntake.Options(host: http.host, port: http.port, authentication: authentication)
        }
        let intake = RequestIntake(engine: runtime.engine)
        let inbox = configuration.inbox.map { inbox in
            InboxConsumer(
                collection: runtime.pool.database(inbox.database).collection(inbox.collection), intake: intake,
                rejected: runtime.pool.database(configuration.stateDatabase).collection(LetheNamespaces.inboxRejectedCollection))
        }
        return serviceGroup(runtime: runtime, intake: intake, inbox: inbox, options: options, logger: logger)
    }

    static func serviceGroup(runtime: LetheRuntime, intake: (any EventIntake)?, inbox: InboxConsumer?,
                             options: Options, logger: Logger) -> ServiceGroup {
        let metrics = ServiceMetrics(state: runtime.state)
        let waker: ChangeStreamWaker? = switch options.changeStreams {
        case .off: nil
        case .auto: ChangeStreamWaker(collections: [inbox?.collection, runtime.state.requests].compactMap { $0 }, logger: logger)
        }
        let pass = WorkerPass(worker: QueueWorker(engine: runtime.engine, options: options.worker), inbox: inbox, lanes: options.concurrency)
        var services: [any Service] = [
            WorkerService(pass: pass, waker: waker, pollInterval: options.pollInterval, metrics: metrics, logger: logger),
        ]
        if !options.sweepSchedules.isEmpty || !options.orphanSweepSchedules.isEmpty || !options.restoreSweepSchedules.isEmpty {
            services.append(SweepService(engine: runtime.engine, schedules: options.sweepSchedules,
                                         orphanSchedules: options.orphanSweepSchedules, orphanOptions: options.orphanOptions,
                                         restoreSchedules: options.restoreSweepSchedules, restoreOptions: options.restoreOptions,
                                         metrics: metrics, logger: logger))
        }
        if let http = options.http, let intake {
            let pool = runtime.pool
            let router = HTTPIntake.router(
                intake: CountingIntake(base: intake, metrics: metrics),
                metrics: { await metrics.render() },
                health: { (try? await pool.ping()) != nil },
                ready: { metrics.hasFinishedAPass },
                options: http
            )
            services.append(HTTPIntake.application(router: router, options: http, logger: logger))
        }
        return ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
    }
}

/// Drains the inbox and the queue, then waits for the next poll, or for a change
/// stream to say something was inserted; on graceful shutdown it finishes the batch in
/// hand and returns.
struct WorkerService: Service {
    let pass: WorkerPass
    let waker: ChangeStreamWaker?
    let pollInterval: Duration
    let metrics: ServiceMetrics
    let logger: Logger

    func run() async throws {
        logger.info("worker started")
        let signal = WakeSignal()
        await withTaskGroup(of: Void.self) { group in
            if let waker {
                group.addTask { await cancelWhenGracefulShutdown { await waker.run(waking: signal) } }
            }
            await work(waking: signal)
            // Ends the streams now; each gives its client back within its wait.
            group.cancelAll()
        }
        logger.info("worker stopped")
    }

    private func work(waking signal: WakeSignal) async {
        while !Task.isShuttingDownGracefully {
            do {
                record(try await runPass())
            } catch {
                // Cancelled (not a graceful shutdown, which lets the pass finish): the
                // pass was cut short, which is no failure to report.
                if Task.isCancelled { break }
                // A server outage must not end the service: count it, wait, try again.
                metrics.recordError()
                logger.error("worker pass failed; retrying at the next poll", metadata: [LogKey.reason: .string("\(error)")])
            }
            do {
                try await cancelWhenGracefulShutdown { try await signal.wait(timeout: pollInterval) }
            } catch {
                break
            }
        }
    }

    /// One pass (inbox, then queue), which stops between batches on graceful shutdown.
    func runPass() async throws -> PassSummary {
        try await pass.run(shouldStop: { Task.isShuttingDownGracefully })
    }

    /// Counts a pass. An inbox that holds no events is said at each poll.
    private func record(_ summary: PassSummary) {
        metrics.record(summary)
        if let error = summary.inboxError {
            metrics.recordError()
            logger.error("inbox not taken in", metadata: [LogKey.reason: .string(error.description)])
        }
    }
}

/// Runs the retention sweeps, the orphan sweep and the restore sweep when their cron
/// schedules say. The orphan and restore sweeps only record requests: the worker
/// service erases them at its next poll.
struct SweepService: Service {
    let engine: ErasureEngine
    let schedules: [CronSchedule]
    let orphanSchedules: [CronSchedule]
    let orphanOptions: OrphanSweeper.Options
    var restoreSchedules: [CronSchedule] = []
    var restoreOptions = RestoreSweeper.Options()
    let metrics: ServiceMetrics
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            let now = Date()
            let nextRetention = schedules.compactMap { $0.next(after: now) }.min()
            let nextOrphans = orphanSchedules.compactMap { $0.next(after: now) }.min()
            let nextRestore = restoreSchedules.compactMap { $0.next(after: now) }.min()
            guard let next = [nextRetention, nextOrphans, nextRestore].compactMap({ $0 }).min() else { return }
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(next.timeIntervalSince(now))) }
            } catch {
                return
            }
            if nextRetention == next {
                do {
                    let report = try await engine.retentionSweeper.sweep(dryRun: false)
                    metrics.recordSweep()
                    logger.info("scheduled sweep done", metadata: [LogKey.documents: .stringConvertible(report.documentsChanged)])
                } catch {
                    metrics.recordError()
                    logger.error("scheduled sweep failed", metadata: [LogKey.reason: .string("\(error)")])
                }
            }
            if nextOrphans == next {
                do {
                    let report = try await engine.orphanSweeper.sweep(dryRun: false, options: orphanOptions)
                    metrics.recordSweep()
                    logger.info("scheduled orphan sweep done", metadata: [LogKey.requested: .stringConvertible(report.orphans?.requested ?? 0)])
                } catch {
                    // A refusal (an empty users collection, too many orphans) needs a person;
                    // the message says what to check, and nothing was changed.
                    metrics.recordError()
                    logger.error("scheduled orphan sweep failed", metadata: [LogKey.reason: .string("\(error)")])
                }
            }
            if nextRestore == next {
                do {
                    let report = try await engine.restoreSweeper.sweep(dryRun: false, options: restoreOptions)
                    metrics.recordSweep()
                    logger.info("scheduled restore sweep done", metadata: [LogKey.requested: .stringConvertible(report.restore?.requested ?? 0)])
                    if let over = report.restore?.overLimit, over > 0 {
                        logger.warning("restore sweep: more erased users are back than one sweep requests; the next scheduled sweep takes the rest",
                                       metadata: [LogKey.requested: .stringConvertible(over)])
                    }
                } catch {
                    metrics.recordError()
                    logger.error("scheduled restore sweep failed", metadata: [LogKey.reason: .string("\(error)")])
                }
            }
        }
    }
}

/// Counts what the HTTP intake takes in.
struct CountingIntake: EventIntake {
    let base: any EventIntake
    let metrics: ServiceMetrics

    func receive(_ body: [UInt8], channel: Channel) async throws -> IntakeSummary {
        let summary = try await base.receive(body, channel: channel)
        metrics.record(IntakeCounts(summary))
        return summary
    }

    func record(_ refusals: [IntakeRefusal]) async throws {
        metrics.record(IntakeCounts(refused: refusals.count))
        try await base.record(refusals)
    }
}
