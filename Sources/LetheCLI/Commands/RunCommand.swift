import ArgumentParser
import Foundation
import LetheCore
import LetheService

struct RunCommand: AsyncParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Take in the inbox, process every pending request, then exit (for cron or a Kubernetes CronJob).",
        discussion: """
            Requests are leased, so several `lethe run` processes can share one state database. \
            Exits 1 if any request failed. Requests that wait (held, needing approval) are counted \
            in the summary and are no failure: exit 0, unless --waiting-exit-code says otherwise.
            """
    )

    @Flag(name: .long, help: "Process what is pending and exit (the only mode of `run`; `serve` runs continuously).")
    var once = false
    @OptionGroup var lease: LeaseOptions
    @Option(name: .long, help: ArgumentHelp("Requests erased together: one write per rule serves them all (env $LETHE_REQUESTS_PER_BATCH).", valueName: "n"))
    var requestsPerBatch: Int = Environment.value("LETHE_REQUESTS_PER_BATCH", default: 500)
    @Option(name: .long, help: ArgumentHelp("Batches erased at once, each under its own leases (env $LETHE_CONCURRENCY).", valueName: "n"))
    var concurrency: Int = Environment.value("LETHE_CONCURRENCY", default: 1)
    @Option(name: .long, help: ArgumentHelp("Write the run's figures (requests, commands sent by name, seconds) as JSON to this file.", valueName: "file"))
    var statsFile: String?
    @Option(name: .long, help: ArgumentHelp("Exit code when no request failed but some wait (held, needing approval); 75 for the code of `erase` (env $LETHE_WAITING_EXIT_CODE).", valueName: "code"))
    var waitingExitCode: Int32 = Environment.value("LETHE_WAITING_EXIT_CODE", default: 0)
    @Option(name: .long, help: ArgumentHelp("Write the run's metrics in Prometheus' text format to this file, atomically (for node exporter's textfile collector; env $LETHE_METRICS_FILE).", valueName: "file.prom"))
    var metricsFile: String?
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var state: StateOptions
    @OptionGroup var erasure: ErasureOptions
    @OptionGroup var inbox: InboxOptions
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        try Environment.check("LETHE_REQUESTS_PER_BATCH", as: Int.self, flag: "--requests-per-batch")
        try Environment.check("LETHE_CONCURRENCY", as: Int.self, flag: "--concurrency")
        try Environment.check("LETHE_WAITING_EXIT_CODE", as: Int32.self, flag: "--waiting-exit-code")
        guard once else { throw ValidationError("`lethe run` needs --once: it processes what is pending, then exits (for cron or a CronJob); for a worker that keeps running, use `lethe serve`") }
        guard requestsPerBatch > 0 else { throw ValidationError("--requests-per-batch must be at least 1") }
        guard (1...64).contains(concurrency) else { throw ValidationError("--concurrency must be between 1 and 64") }
        guard (0...125).contains(waitingExitCode) else { throw ValidationError("--waiting-exit-code must be between 0 and 125") }
        try inbox.validate(stateDatabase: state.stateDb)
    }

    func run() async throws {
        let policies = try policyOptions.load(hashKeyConfigured: try PolicyOptions.hashKey() != nil)
        let code = try await withRuntime(connection: connection, policies: policies, state: state, erasure: erasure.engineOptions,
                                         inbox: inbox.namespace(stateDatabase: state.stateDb), extraClients: concurrency - 1) { runtime in
            let runStarted = Date()
            let workerOptions = QueueWorker.Options(leaseDuration: lease.duration, requestsPerBatch: requestsPerBatch)
            let pass = WorkerPass(worker: QueueWorker(engine: runtime.engine, options: workerOptions),
                                  inbox: inbox.consumer(runtime, stateDatabase: state.stateDb), lanes: concurrency)
            let before = runtime.pool.monitor.snapshot()
            let started = ContinuousClock.now
            let passed = try await pass.run()
            let summary = passed.queue
            if passed.intake.total > 0 {
                let intake = passed.intake
                print("inbox: \(intake.new) new request(s), \(intake.ignored) ignored, \(intake.refused) refused (`lethe refusals` lists why; the refused events are kept in \(state.stateDb).\(LetheNamespaces.inboxRejectedCollection))")
            }
            if let statsFile {
                let spent = runtime.pool.monitor.snapshot().subtracting(before)
                let elapsed = (ContinuousClock.now - started).components
                let stats: [String: Any] = [
                    "requests": summary.processed,
                    "done": summary.count(.done),
                    "failed": summary.count(.failed),
                    "seconds": Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18,
                    "commands": spent.totalStarted,
                    "commandsByName": spent.byCommand.mapValues { $0.started },
                ]
                let data = try JSONSerialization.data(withJSONObject: stats, options: [.prettyPrinted, .sortedKeys])
                try data.write(to: URL(fileURLWithPath: statsFile))
            }
            try await runtime.state.saveRun(RunReport(startedAt: runStarted, finishedAt: Date(), worker: workerOptions.owner, summary: summary, intake: passed.intake))
            if let path = metricsFile ?? Environment.text("LETHE_METRICS_FILE") {
                try await MetricsFile.write(passed, state: runtime.state, to: path)
            }
            if let error = passed.inboxError {
                printError("error: \(error)")
                return LetheExit.invalidInput
            }
            return summarize(summary, waitingExit: ExitCode(waitingExitCode))
        }
        throw code
    }
}
