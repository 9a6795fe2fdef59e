import ArgumentParser
import Foundation
import LetheCore
import LetheService
import MongoKit

struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check the policy files: every problem of every file, with file, line and column.",
        discussion: "Exits 65 when any policy has an error. With --check-db, also connects and checks each rule's collection and index."
    )

    @Option(name: .long, help: ArgumentHelp("Directory of policy files (*.yaml) (default: $LETHE_POLICIES, else policies).", valueName: "dir"))
    var policies: String = Environment.value("LETHE_POLICIES", default: "policies")

    @Flag(name: .long, help: "Connect and report, per rule, whether the collection exists, the match field is indexed, and what a sample of documents holds at each match path (a path no document has is an error).")
    var checkDb = false

    @Option(name: .long, help: ArgumentHelp("Lethe's own database, which no policy may name (as for the other commands) (env $LETHE_STATE_DB).", valueName: "name"))
    var stateDb: String = Environment.value("LETHE_STATE_DB", default: "lethe")

    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        if let problem = LetheNamespaces.checkStateDatabase(stateDb, policies: []).first {
            throw ValidationError(problem.description)
        }
    }

    func run() async throws {
        let result = PolicyLoader.load(directory: URL(fileURLWithPath: policies), options: .fromEnvironment())
        for diagnostic in result.diagnostics { printError(diagnostic.numberedDescription) }
        let conflicts = LetheNamespaces.checkStateDatabase(stateDb, policies: result.policies)
        for conflict in conflicts { printError("error: \(conflict)") }
        if result.hasErrors || !conflicts.isEmpty {
            printError("\(result.errors.count + conflicts.count) error(s), \(result.warnings.count) warning(s) in \(policies)")
            throw LetheExit.invalidInput
        }
        for policy in result.policies {
            print("\(policy.sourceFile): policy \(policy.name) v\(policy.version) valid, \(policy.rules.count) rule(s), \(policy.retention.count) retention rule(s), fingerprint \(policy.fingerprint)")
        }
        guard checkDb else { return }
        let pool = try connection.openPool()
        let outcome = await Result {
            (try await PolicyDatabaseCheck.run(result.policies, pool: pool), try await PolicyDatabaseCheck.users(result.policies, pool: pool),
             try await PolicyDatabaseCheck.paths(result.policies, pool: pool))
        }
        await pool.shutdown()
        let (checks, usersProblems, paths) = try outcome.mapError(report).get()
        for check in checks { print(check.description) }
        for finding in paths {
            if finding.level == .ok { print(finding.description) } else { printError(finding.description) }
        }
        for problem in usersProblems { printError(problem.description) }
        let pathErrors = paths.filter { $0.level == .error }.count
        let warnings = checks.filter { !$0.isClean }.count + paths.filter { $0.level == .warning }.count
        guard !usersProblems.isEmpty || pathErrors > 0 else {
            print(warnings == 0 ? "database check: all rules ok" : "database check: \(warnings) warning(s)")
            return
        }
        printError("database check: \(usersProblems.count + pathErrors) error(s): \(pathErrors) in match paths, \(usersProblems.count) in the policies' users")
        throw LetheExit.invalidInput
    }
}
