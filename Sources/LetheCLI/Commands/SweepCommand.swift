import ArgumentParser
import Foundation
import LetheCore
import LetheService

struct SweepCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Apply the retention rules (documents past their period) and the `then` of retained documents now due.",
        discussion: "In bounded batches; run with --dry-run first to see what would go. The sweep is recorded in the state database."
    )

    @Flag(name: .long, help: "Count only; change nothing.") var dryRun = false
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var engine: EngineOptions
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let policies = try policyOptions.load(hashKeyConfigured: try PolicyOptions.hashKey() != nil)
        try await withRuntime(connection: connection, policies: policies, engine: engine) { runtime in
            let report = try await runtime.engine.sweep(dryRun: dryRun) { line in
                let verb = dryRun ? "would \(line.action)" : (line.action == "delete" ? "deleted \(line.deleted)" : "anonymized \(line.modified)")
                print("  \(line.policy) retention #\(line.ruleIndex + 1) \(line.namespace): \(line.matched) past their period, \(dryRun ? verb : verb)")
            }
            let total = report.rules.reduce(0) { $0 + (dryRun ? $1.matched : $1.deleted + $1.modified) }
            let seconds = report.finishedAt.timeIntervalSince(report.startedAt)
            print("sweep\(dryRun ? " (dry run)" : ""): \(report.rules.count) retention rule(s), \(total) document(s) \(dryRun ? "would change" : "changed") in \(String(format: "%.1f", seconds)) s")
        }
    }
}
