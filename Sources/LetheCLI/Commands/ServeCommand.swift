import ArgumentParser
import Foundation
import LetheCore
import LetheService
import Logging
import ServiceLifecycle

extension LetheServer.ChangeStreamMode: ExpressibleByArgument {}

struct ServeCommand: AsyncParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run continuously: take in the inbox and HTTP deliveries, process requests, run scheduled sweeps.",
        discussion: """
            The worker looks at the inbox and the request queue every --poll-seconds, and with \
            --change-streams auto (the default) also as soon as either gets an insert, through a change \
            stream on each (a replica set or sharded cluster offers them; a standalone server does not, and \
            serve then says so once and polls). --change-streams off: poll only.
            HTTP on --listen: GET /healthz (the state database answers within 2 s), GET /readyz (and the \
            worker has finished a pass), GET /metrics (Prometheus), always; POST /v1/events only when \
            LETHE_HTTP_SECRET (signed deliveries) or LETHE_HTTP_TOKEN (a bearer token) is set (docs/events.md). \
            SIGTERM or SIGINT: finishes the batch in hand, gives back its leases, and exits 0.
            """
    )

    @Option(name: .long, help: ArgumentHelp("Address for HTTP (host:port) (env $LETHE_LISTEN).", valueName: "host:port"))
    var listen: String = Environment.value("LETHE_LISTEN", default: "127.0.0.1:8080")
    @Flag(name: .long, help: "Run without HTTP (no health, readiness, metrics or event intake).") var noHttp = false
    @Option(name: .long, help: ArgumentHelp("Seconds between looks at the inbox and the queue (env $LETHE_POLL_SECONDS).", valueName: "seconds"))
    var pollSeconds: Double = Environment.value("LETHE_POLL_SECONDS", default: 5)
    @Option(name: .long, help: ArgumentHelp("Wake on inserts into the inbox and the request queue through change streams where the server offers them (auto), or only poll (off) (env $LETHE_CHANGE_STREAMS).", valueName: "auto|off"))
    var changeStreams: LetheServer.ChangeStreamMode = Environment.value("LETHE_CHANGE_STREAMS", default: .auto)
    @Option(name: .long, help: ArgumentHelp("When to run the retention sweeps, as a cron expression in UTC (repeatable), e.g. '0 3 * * *' (env $LETHE_SWEEP_CRON).", valueName: "cron"))
    var sweepCron: [String] = Environment.list("LETHE_SWEEP_CRON")
    @Option(name: .long, help: ArgumentHelp("When to run the orphan sweep (`lethe sweep --orphans`), as a cron expression in UTC (repeatable); its requests go to the worker (env $LETHE_ORPHAN_SWEEP_CRON).", valueName: "cron"))
    var orphanSweepCron: [String] = Environment.list("LETHE_ORPHAN_SWEEP_CRON")
    @Option(name: .long, help: ArgumentHelp("When to run the restore sweep (`lethe sweep --restored`), as a cron expression in UTC (repeatable); off by default; its requests go to the worker (env $LETHE_RESTORE_SWEEP_CRON).", valueName: "cron"))
    var restoreSweepCron: [String] = Environment.list("LETHE_RESTORE_SWEEP_CRON")
    @Option(name: .long, help: ArgumentHelp("Scheduled orphan sweeps refuse when more orphan ids than this are found (env $LETHE_MAX_ORPHANS).", valueName: "n"))
    var maxOrphans: Int = Environment.value("LETHE_MAX_ORPHANS", default: 100)
    @Option(name: .long, help: ArgumentHelp("Scheduled orphan sweeps refuse when the orphans are more than this percentage of the linked ids (env $LETHE_MAX_ORPHAN_PERCENT).", valueName: "percent"))
    var maxOrphanPercent: Double = Environment.value("LETHE_MAX_ORPHAN_PERCENT", default: 10)
    @Option(name: .long, help: ArgumentHelp("Requests erased together (env $LETHE_REQUESTS_PER_BATCH).", valueName: "n"))
    var requestsPerBatch: Int = Environment.value("LETHE_REQUESTS_PER_BATCH", default: 500)
    @Option(name: .long, help: ArgumentHelp("Batches erased at once, each under its own leases (env $LETHE_CONCURRENCY).", valueName: "n"))
    var concurrency: Int = Environment.value("LETHE_CONCURRENCY", default: 1)
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var state: StateOptions
    @OptionGroup var erasure: ErasureOptions
    @OptionGroup var sweepWrites: SweepWriteOptions
    @OptionGroup var inbox: InboxOptions
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        try checkEnvironment()
        guard pollSeconds > 0 else { throw ValidationError("--poll-seconds must be positive") }
        guard requestsPerBatch > 0 else { throw ValidationError("--requests-per-batch must be at least 1") }
        guard (1...64).contains(concurrency) else { throw ValidationError("--concurrency must be between 1 and 64") }
        for expression in sweepCron {
            do { _ = try CronSchedule(expression) } catch { throw ValidationError("--sweep-cron (or LETHE_SWEEP_CRON): \(error)") }
        }
        for expression in orphanSweepCron {
            do { _ = try CronSchedule(expression) } catch { throw ValidationError("--orphan-sweep-cron (or LETHE_ORPHAN_SWEEP_CRON): \(error)") }
        }
        for expression in restoreSweepCron {
            do { _ = try CronSchedule(expression) } catch { throw ValidationError("--restore-sweep-cron (or LETHE_RESTORE_SWEEP_CRON): \(error)") }
        }
        guard maxOrphans >= 0 else { throw ValidationError("--max-orphans cannot be negative") }
        guard (0...100).contains(maxOrphanPercent) else { throw ValidationError("--max-orphan-percent must be between 0 and 100") }
        try inbox.validate(stateDatabase: state.stateDb)
        if !noHttp {
            guard Self.address(listen) != nil else { throw ValidationError("--listen must be host:port, such as 127.0.0.1:8080") }
        }
    }

    /// The environment variables that stand for serve's own flags, each parsed as its flag.
    private func checkEnvironment() throws {
        try Environment.check("LETHE_POLL_SECONDS", as: Double.self, flag: "--poll-seconds")
        try Environment.check("LETHE_CHANGE_STREAMS", as: LetheServer.ChangeStreamMode.self, flag: "--change-streams")
        try Environment.check("LETHE_MAX_ORPHANS", as: Int.self, flag: "--max-orphans")
        try Environment.check("LETHE_MAX_ORPHAN_PERCENT", as: Double.self, flag: "--max-orphan-percent")
        try Environment.check("LETHE_REQUESTS_PER_BATCH", as: Int.self, flag: "--requests-per-batch")
        try Environment.check("LETHE_CONCURRENCY", as: Int.self, flag: "--concurrency")
    }

    static func address(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        return (String(text[..<colon]), port)
    }

    func run() async throws {
        let policies = try policyOptions.load(hashKeyConfigured: try PolicyOptions.hashKey() != nil)
        if !orphanSweepCron.isEmpty, !policies.contains(where: { $0.users != nil }) {
            printError("error: --orphan-sweep-cron needs a policy that says where its users are listed; add e.g. `users: { collection: custom_user_data, field: user_id }` (docs/policies.md, users)")
            throw LetheExit.invalidInput
        }
        let configuration = try configuration()
        do { try configuration.check() } catch {
            printError("error: \(error)")
            throw LetheExit.invalidInput
        }
        try await withRuntime(connection: connection, policies: policies, state: state, erasure: sweepWrites.applied(to: erasure.engineOptions),
                              inbox: inbox.namespace(stateDatabase: state.stateDb),
                              extraClients: LetheServer.clientsHeld(by: configuration.options)) { runtime in
            let logger = Logger(label: "lethe.serve")
            let group: ServiceGroup
            do { group = try LetheServer.build(configuration: configuration, runtime: runtime, logger: logger) } catch {
                printError("error: \(error)")
                throw LetheExit.invalidInput
            }
            let namespace = inbox.namespace(stateDatabase: state.stateDb)
            printError("lethe serve: \(policies.count) polic(ies), inbox \(namespace.database).\(namespace.collection)\(configuration.http.map { ", HTTP on \($0.host):\($0.port) (" + ($0.hasCredentials ? "events, " : "no event intake: no LETHE_HTTP_SECRET or LETHE_HTTP_TOKEN; ") + "health, metrics)" } ?? ""), sweeps \(sweepCron.isEmpty ? "off" : sweepCron.joined(separator: "; ")), orphan sweeps \(orphanSweepCron.isEmpty ? "off" : orphanSweepCron.joined(separator: "; ")), restore sweeps \(restoreSweepCron.isEmpty ? "off" : restoreSweepCron.joined(separator: "; ")), change streams \(changeStreams.rawValue), \(concurrency) batch(es) at once")
            try await group.run()
            printError("lethe serve: stopped")
        }
    }

    /// The flags and the environment, as the service builder takes them.
    func configuration() throws -> ServeConfiguration {
        let environment = ProcessInfo.processInfo.environment
        let options = LetheServer.Options(
            pollInterval: .milliseconds(Int(pollSeconds * 1000)),
            changeStreams: changeStreams,
            sweepSchedules: try sweepCron.map { try CronSchedule($0) },
            orphanSweepSchedules: try orphanSweepCron.map { try CronSchedule($0) },
            orphanOptions: .init(maxOrphans: maxOrphans, maxShare: maxOrphanPercent / 100),
            restoreSweepSchedules: try restoreSweepCron.map { try CronSchedule($0) },
            worker: .init(requestsPerBatch: requestsPerBatch),
            concurrency: concurrency
        )
        let http = noHttp ? nil : Self.address(listen).map { address in
            ServeConfiguration.HTTP(host: address.host, port: address.port,
                                    secret: environment["LETHE_HTTP_SECRET"], bearerToken: environment["LETHE_HTTP_TOKEN"])
        }
        let namespace = inbox.namespace(stateDatabase: state.stateDb)
        return ServeConfiguration(options: options, http: http,
                                  inbox: .init(database: namespace.database, collection: namespace.collection),
                                  stateDatabase: state.stateDb)
    }
}
