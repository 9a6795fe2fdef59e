import ArgumentParser
import Foundation
import LetheCore
import LetheService

struct CoverageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coverage",
        abstract: "Which field paths of the data hold personal-looking values that no rule covers. Reads a sample only; writes nothing.",
        discussion: """
            Samples each collection of the policies' databases ($sample, --sample documents) and reports, per field path, \
            how many sampled values are ids of known users (found in the policies' users collections), emails, phone \
            numbers or IP addresses (by pattern), and whether a rule covers the path. Prints counts and kinds only, never \
            a value. --format yaml prints a draft policy for the uncovered paths, to review: Lethe never applies it. \
            See docs/policies.md, Coverage.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json, yaml }

    @Option(name: .long, help: ArgumentHelp("A database to examine (repeatable); default: every policy's database and users database.", valueName: "name"))
    var database: [String] = []
    @Option(name: .long, help: ArgumentHelp("Documents sampled per collection, at most \(CoverageScanner.Options.maximumSample).", valueName: "n"))
    var sample: Int = 1_000
    @Option(name: .long, help: ArgumentHelp("Print text, JSON, or a draft policy for the uncovered paths (yaml).", valueName: "text|json|yaml"))
    var format: Format = .text
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var state: StateOptions
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard (1...CoverageScanner.Options.maximumSample).contains(sample) else {
            throw ValidationError("--sample must be between 1 and \(CoverageScanner.Options.maximumSample)")
        }
        for name in database where name.isEmpty || name.contains(where: { "/\\. \"$".contains($0) }) {
            throw ValidationError("--database '\(name)' is not a MongoDB database name")
        }
    }

    func run() async throws {
        let policies = try policyOptions.load(hashKeyConfigured: try PolicyOptions.hashKey() != nil)
        let options = CoverageScanner.Options(sample: sample, databases: database.isEmpty ? nil : database, excludedDatabases: [state.stateDb])
        let report: CoverageReport
        do {
            report = try await CoverageRun.run(connectionString: try connection.connectionString(), policies: policies, options: options)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw LetheCLI.report(error)
        }
        switch format {
        case .text: print(report.text, terminator: "")
        case .json: print(try report.json(), terminator: "")
        case .yaml: print(report.draftPolicyYAML, terminator: "")
        }
    }
}
