import ArgumentParser
import LetheCore
import LetheService

/// Lethe's own database: requests, receipts, holds, the audit trail.
struct StateOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Database for Lethe's requests, receipts and holds (default: $LETHE_STATE_DB, else lethe).", valueName: "name"))
    var stateDb: String = Environment.value("LETHE_STATE_DB", default: "lethe")

    func validate() throws {
        // The flag alone: a database name by MongoDB's rules, not admin/local/config (exit
        // 64). The checks against the policies come with them, in `check(against:)` (exit 65).
        if let problem = LetheNamespaces.checkStateDatabase(stateDb, policies: []).first {
            throw ValidationError(problem.description)
        }
    }

    /// Refuses a state database or inbox that a policy names (its rules would erase Lethe's
    /// own records, or the inbox would destroy the policy's collection): prints why, exits 65.
    func check(against policies: [Policy], inbox: InboxOptions.Namespace? = nil) throws {
        var problems = LetheNamespaces.checkStateDatabase(stateDb, policies: policies)
        if let inbox, let problem = LetheNamespaces.checkInbox(database: inbox.database, collection: inbox.collection,
                                                                stateDatabase: stateDb, policies: policies) {
            problems.append(problem)
        }
        guard !problems.isEmpty else { return }
        for problem in problems { printError("error: \(problem)") }
        printError("error: nothing was read or changed")
        throw problems.contains { $0.kind == .conflict } ? LetheExit.invalidInput : ExitCode.validationFailure
    }
}
