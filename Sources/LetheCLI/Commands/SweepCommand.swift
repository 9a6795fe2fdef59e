import ArgumentParser
import Foundation
import LetheCore
import LetheService

struct SweepCommand: AsyncParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Apply the retention rules and the `then` of retained documents now due; with --orphans, erase the data of users that no longer exist.",
        discussion: """
            In bounded batches; run with --dry-run first to see what would go. The sweep is recorded in the state database. \
            On a terminal, a progress bar on standard error shows each rule's documents done out of those matched.

            --orphans: ids linked from the data (each erasure rule's match fields) that no policy's users collection \
            lists belong to deleted users whose deletion event never arrived. Each one first seen at least the policy's \
            users.grace ago becomes a request (source orphan-sweep, once per user), processed at once by the normal worker \
            together with any other pending request, like `lethe run --once`. Refused, with nothing changed, when a users \
            collection is empty or missing, or when the orphans cross --max-orphans or --max-orphan-percent (exit 75); \
            --allow-many goes on. Output holds counts only, never an id.
            """
    )

    @Flag(name: .long, help: "Count only; change nothing.") var dryRun = false
    @Flag(name: .long, help: "Erase the data of users found in no users collection (the policies' `users`) instead of the retention sweep.")
    var orphans = false
    @Flag(name: .long, help: "With --orphans: go on even when the orphans cross --max-orphans or --max-orphan-percent.")
    var allowMany = false
    @Option(name: .long, help: ArgumentHelp("With --orphans: refuse when more orphan ids than this are found.", valueName: "n"))
    var maxOrphans: Int = 100
    @Option(name: .long, help: ArgumentHelp("With --orphans: refuse when the orphans are more than this percentage of the linked ids.", valueName: "percent"))
    var maxOrphanPercent: Double = 10
    @Option(name: .long, help: ArgumentHelp("Write the sweep's figures (commands sent by name, seconds) as JSON to this file.", valueName: "file"))
    var statsFile: String?
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var state: StateOptions
    @OptionGroup var erasure: ErasureOptions
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard maxOrphans >= 0 else { throw ValidationError("--max-orphans cannot be negative") }
        guard (0...100).contains(maxOrphanPercent) else { throw ValidationError("--max-orphan-percent must be between 0 and 100") }
        if !orphans, allowMany || maxOrphans != 100 || maxOrphanPercent != 10 {
            throw ValidationError("--allow-many, --max-orphans and --max-orphan-percent go with --orphans")
        }
    }

    func run() async throws {
        let policies = try policyOptions.load(hashKeyConfigured: try PolicyOptions.hashKey() != nil)
        if orphans {
            let code = try await withRuntime(connection: connection, policies: policies, state: state, erasure: erasure.engineOptions) { runtime in
                try await recordingStats(runtime) { try await sweepOrphans(runtime) }
            }
            throw code
        }
        try await withRuntime(connection: connection, policies: policies, state: state, erasure: erasure.engineOptions) { runtime in
            try await recordingStats(runtime) {
                let display = ProgressDisplay()
                let report = try await runtime.engine.retentionSweeper.sweep(dryRun: dryRun, progress: { line in
                    display.clear()
                    let verb = dryRun ? "would \(line.action.rawValue)" : line.counts.effect(of: line.action.kind)
                    print("  \(line.policy) retention #\(line.ruleIndex + 1) \(line.namespace): \(line.matched) past their period, \(verb)")
                }, batchDone: { display.show($0) })
                display.clear()
                let total = report.rules.reduce(0) { $0 + (dryRun ? $1.matched : $1.deleted + $1.modified) }
                let seconds = report.finishedAt.timeIntervalSince(report.startedAt)
                print("sweep\(dryRun ? " (dry run)" : ""): \(report.rules.count) retention rule(s), \(total) document(s) \(dryRun ? "would change" : "changed") in \(String(format: "%.1f", seconds)) s")
            }
        }
    }

    /// Runs `body`; with --stats-file, then writes the commands it sent and its seconds.
    private func recordingStats<T>(_ runtime: LetheRuntime, _ body: () async throws -> T) async throws -> T {
        let before = runtime.pool.monitor.snapshot()
        let started = ContinuousClock.now
        let result = try await body()
        if let statsFile {
            let spent = runtime.pool.monitor.snapshot().subtracting(before)
            let elapsed = (ContinuousClock.now - started).components
            let stats: [String: Any] = [
                "seconds": Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18,
                "commands": spent.totalStarted,
                "commandsByName": spent.byCommand.mapValues { $0.started },
            ]
            try JSONSerialization.data(withJSONObject: stats, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: statsFile))
        }
        return result
    }

    /// The orphan sweep, then (unless dry) the worker over the requests it recorded.
    private func sweepOrphans(_ runtime: LetheRuntime) async throws -> ExitCode {
        let options = OrphanSweeper.Options(maxOrphans: maxOrphans, maxShare: maxOrphanPercent / 100, allowMany: allowMany)
        let report: SweepReport
        do {
            report = try await runtime.engine.orphanSweeper.sweep(dryRun: dryRun, options: options) { line in
                let verb = line.action == .retain ? "kept (retain)" : "to \(line.action.rawValue)"
                print("  \(line.policy) #\(line.ruleIndex + 1) \(line.action.rawValue) \(line.namespace): \(line.users ?? 0) orphan id(s), \(line.matched) document(s) \(verb)")
            }
        } catch let error as OrphanSweepError {
            printError("error: \(error)")
            if case .tooMany = error { return LetheExit.waiting }
            return LetheExit.invalidInput
        }
        guard let counts = report.orphans else { return .success }
        let grace = runtime.engine.policies.compactMap(\.users?.effectiveGrace).map(\.description).joined(separator: "/")
        print("orphan sweep\(dryRun ? " (dry run)" : ""): \(counts.linked) linked id(s), \(counts.orphans) orphan(s): "
              + "\(counts.orphans - counts.waiting) past the grace period (\(grace)), \(counts.waiting) waiting; "
              + "\(counts.alreadyRequested) already requested\(counts.refused > 0 ? ", \(counts.refused) id(s) unusable" : "")")
        if dryRun {
            print("would request \(counts.orphans - counts.waiting); a real sweep first records the \(counts.waiting) waiting, and requests them once seen \(grace) ago")
            if let refusal = counts.refusal {
                printError("warning: the real sweep would refuse: \(refusal); check the policies' users, or pass --allow-many if the orphans are real")
            }
            return .success
        }
        print("requested \(counts.requested) (source \(Channel.orphanSweep.rawValue))")
        guard counts.requested > 0 else { return .success }
        return summarize(try await QueueWorker(engine: runtime.engine).drain(), waitingExit: LetheExit.waiting)
    }
}
