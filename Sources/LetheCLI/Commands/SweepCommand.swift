import ArgumentParser
import Foundation
import LetheCore
import LetheService

struct SweepCommand: AsyncParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Apply the retention rules and the `then` of retained documents now due; with --orphans, erase the data of users that no longer exist; with --restored, erase again what a restored backup brought back.",
        discussion: """
            In bounded batches; run with --dry-run first to see what would go. The sweep is recorded in the state database. \
            On a terminal, a progress bar on standard error shows each rule's documents done out of those matched.

            --orphans: ids linked from the data (each erasure rule's match fields) that no policy's users collection \
            lists belong to deleted users whose deletion event never arrived. Each one first seen at least the policy's \
            users.grace ago becomes a request (source orphan-sweep, once per user), processed at once by the normal worker \
            together with any other pending request, like `lethe run --once`. Refused, with nothing changed, when a users \
            collection is empty or missing, or when the orphans cross --max-orphans or --max-orphan-percent (exit 75); \
            --allow-many goes on. Output holds counts only, never an id.

            --restored: after a backup is restored, the data of users erased since the snapshot is back. Every distinct \
            value of the rules' match fields is keyed and looked up among the tombstones that finished requests left; each \
            erased user found becomes a request (source restore-sweep), processed at once by the normal worker. --since \
            (the snapshot's date) considers only users erased from then on. A value that a users document created after \
            the tombstone holds belongs to a user who signed up again, and is kept (counted). At most --max-requests \
            requests a sweep; run it again for the rest. The retention sweep removes tombstones older than the policies' \
            tombstones.keep (default 400d). See docs/erasure.md, After a restore.
            """
    )

    @Flag(name: .long, help: "Count only; change nothing.") var dryRun = false
    @Flag(name: .long, help: "Erase the data of users found in no users collection (the policies' `users`) instead of the retention sweep.")
    var orphans = false
    @Flag(name: .long, help: "Erase again the data of erased users that a restored backup brought back (their tombstones match) instead of the retention sweep.")
    var restored = false
    @Option(name: .long, help: ArgumentHelp("With --restored: only users erased at or after this date (the snapshot's), a UTC day (2026-11-01) or an ISO-8601 time.", valueName: "date"))
    var since: String?
    @Option(name: .long, help: ArgumentHelp("With --restored: most requests one sweep records; the rest wait for the next sweep.", valueName: "n"))
    var maxRequests: Int = 1_000
    @Flag(name: .long, help: "With --restored: also request users found only by a named identifier (an email). Only for data known to come from a restored backup: a new account may hold the same identifier.")
    var identifierOnly = false
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
    @OptionGroup var sweepWrites: SweepWriteOptions
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard maxOrphans >= 0 else { throw ValidationError("--max-orphans cannot be negative") }
        guard (0...100).contains(maxOrphanPercent) else { throw ValidationError("--max-orphan-percent must be between 0 and 100") }
        if !orphans, allowMany || maxOrphans != 100 || maxOrphanPercent != 10 {
            throw ValidationError("--allow-many, --max-orphans and --max-orphan-percent go with --orphans")
        }
        guard !(orphans && restored) else { throw ValidationError("--orphans and --restored are two sweeps; run them one after the other") }
        if !restored, since != nil || maxRequests != 1_000 || identifierOnly {
            throw ValidationError("--since, --max-requests and --identifier-only go with --restored")
        }
        guard (1...100_000).contains(maxRequests) else { throw ValidationError("--max-requests must be between 1 and 100000") }
        if let since { _ = try ReportCommand.date(since, flag: "--since") }
    }

    func run() async throws {
        let policies = try policyOptions.load(hashKeyConfigured: try PolicyOptions.hashKey() != nil)
        if restored {
            let options = RestoreSweeper.Options(since: try since.map { try ReportCommand.date($0, flag: "--since") }, maxRequests: maxRequests,
                                                 identifierOnly: identifierOnly)
            let code = try await withRuntime(connection: connection, policies: policies, state: state, erasure: sweepWrites.applied(to: erasure.engineOptions)) {
                try await sweepRestored($0, options: options)
            }
            throw code
        }
        if orphans {
            let code = try await withRuntime(connection: connection, policies: policies, state: state, erasure: sweepWrites.applied(to: erasure.engineOptions)) { runtime in
                try await recordingStats(runtime) { try await sweepOrphans(runtime) }
            }
            throw code
        }
        try await withRuntime(connection: connection, policies: policies, state: state, erasure: sweepWrites.applied(to: erasure.engineOptions)) { runtime in
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

    /// The restore sweep, then (unless dry) the worker over the requests it recorded.
    private func sweepRestored(_ runtime: LetheRuntime, options: RestoreSweeper.Options) async throws -> ExitCode {
        let report = try await runtime.engine.restoreSweeper.sweep(dryRun: dryRun, options: options) { line in
            print("  \(line.policy) #\(line.ruleIndex + 1) \(line.action.rawValue) \(line.namespace): \(line.matched) restored document(s) to \(line.action.rawValue)")
        }
        guard let counts = report.restore else { return .success }
        print("restore sweep\(dryRun ? " (dry run)" : ""): \(counts.values) distinct value(s) read, \(counts.tombstoned) erased before; "
              + "\(counts.reRegistered) kept as signed up again\(counts.creationUnknown > 0 ? ", \(counts.creationUnknown) kept as their users document has no creation time (set users.created)" : ""); "
              + "\(counts.users) erased user(s) back, \(counts.alreadyRequested) already requested\(counts.refused > 0 ? ", \(counts.refused) unusable" : "")")
        if counts.identifierOnly > 0 {
            printError("warning: \(counts.identifierOnly) erased user(s) are back only by an identifier (e.g. an email), which a new account may hold too; "
                       + "none was requested. Their earlier requests: \(counts.identifierOnlyRequests.joined(separator: ", "))"
                       + "\(counts.identifierOnly > counts.identifierOnlyRequests.count ? ", …" : ""). If the data comes from a restored backup, "
                       + "run `lethe sweep --restored --identifier-only` (docs/erasure.md, Restores)")
        }
        if !runtime.engine.policies.contains(where: { $0.users != nil }) {
            printError("warning: no policy has `users`, so users who signed up again cannot be told apart; add `users:` (docs/policies.md)")
        }
        if counts.overLimit > 0 {
            printError("warning: \(counts.overLimit) more erased user(s) are back than --max-requests (\(options.maxRequests)) allows in one sweep; "
                       + "run `lethe sweep --restored` again once these are done, or raise --max-requests")
        }
        if dryRun {
            print("would request \(counts.users - counts.alreadyRequested - counts.overLimit)")
            return .success
        }
        print("requested \(counts.requested) (source \(Channel.restoreSweep.rawValue))")
        guard counts.requested > 0 else { return .success }
        return summarize(try await QueueWorker(engine: runtime.engine).drain(), waitingExit: LetheExit.waiting)
    }
}
