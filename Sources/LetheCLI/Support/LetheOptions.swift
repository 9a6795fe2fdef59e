import ArgumentParser
import Foundation
import LetheCore
import LetheService
import MongoKit

/// Which policies apply. Shared by every command that reads policies.
struct PolicyOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Directory of policy files (*.yaml).", valueName: "dir"))
    var policies: String = "policies"

    @Option(name: .long, help: ArgumentHelp("Use only the policy with this name (repeatable). Default: all.", valueName: "name"))
    var policy: [String] = []

    /// LETHE_HASH_KEY, checked: nil when unset.
    static func hashKey() throws -> SecretKey? {
        guard let text = ProcessInfo.processInfo.environment["LETHE_HASH_KEY"], !text.isEmpty else { return nil }
        do { return try SecretKey(text: text) } catch {
            printError("error: LETHE_HASH_KEY: \(error)")
            throw LetheExit.invalidInput
        }
    }

    /// Loads and validates the policies; prints every problem and exits 65 on errors.
    func load(hashKeyConfigured: Bool) throws -> [Policy] {
        let result = PolicyLoader.load(
            directory: URL(fileURLWithPath: policies),
            options: PolicyLoader.Options(hashKeyConfigured: hashKeyConfigured)
        )
        for diagnostic in result.diagnostics { printError(diagnostic.description) }
        if result.hasErrors {
            printError("error: the policies are not valid; nothing was read or changed")
            throw LetheExit.invalidInput
        }
        var selected = result.policies
        if !policy.isEmpty {
            let unknown = policy.filter { name in !selected.contains { $0.name == name } }
            guard unknown.isEmpty else {
                printError("error: no policy named \(unknown.joined(separator: ", ")) in \(policies); known: \(selected.map(\.name).joined(separator: ", "))")
                throw LetheExit.invalidInput
            }
            selected = selected.filter { policy.contains($0.name) }
        }
        return selected
    }
}

/// The state database and engine limits.
struct EngineOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Database for Lethe's requests, receipts and holds.", valueName: "name"))
    var stateDb: String = "lethe"

    @Option(name: .long, help: ArgumentHelp("Most documents one write targets; larger sets go in batches.", valueName: "n"))
    var batchSize: Int = 5_000

    @Option(name: .long, help: ArgumentHelp("Guard rail: requests that would change more documents wait for `lethe approve` (default: the policies' maxDocumentsPerRequest, else 10000).", valueName: "n"))
    var maxDocuments: Int?

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be at least 1") }
        if let maxDocuments, maxDocuments < 0 { throw ValidationError("--max-documents cannot be negative") }
        // The flags alone: a database name by MongoDB's rules, not admin/local/config, and
        // an inbox that is none of Lethe's own records (exit 64). The checks against the
        // policies come with them, in `check(against:)` (exit 65).
        if let problem = LetheNamespaces.checkStateDatabase(stateDb, policies: []).first {
            throw ValidationError(problem.description)
        }
        if let inbox, !inbox.contains(".") {
            throw ValidationError("--inbox must be DATABASE.COLLECTION, such as \(stateDb).inbox")
        }
        let namespace = inboxNamespace
        if let problem = LetheNamespaces.checkInbox(database: namespace.database, collection: namespace.collection,
                                                     stateDatabase: stateDb, policies: []) {
            throw ValidationError(problem.description)
        }
    }

    /// Refuses a state database or inbox that a policy names (its rules would erase Lethe's
    /// own records, or the inbox would destroy the policy's collection): prints why, exits 65.
    func check(against policies: [Policy]) throws {
        var problems = LetheNamespaces.checkStateDatabase(stateDb, policies: policies)
        let namespace = inboxNamespace
        if let problem = LetheNamespaces.checkInbox(database: namespace.database, collection: namespace.collection,
                                                     stateDatabase: stateDb, policies: policies) {
            problems.append(problem)
        }
        guard !problems.isEmpty else { return }
        for problem in problems { printError("error: \(problem)") }
        printError("error: nothing was read or changed")
        throw problems.contains { $0.kind == .conflict } ? LetheExit.invalidInput : ExitCode.validationFailure
    }

    @Option(name: .long, help: ArgumentHelp("The inbox collection producers insert events into (default: <state-db>.inbox).", valueName: "db.collection"))
    var inbox: String?

    /// The inbox as (database, collection).
    var inboxNamespace: (database: String, collection: String) {
        guard let inbox, let dot = inbox.firstIndex(of: ".") else { return (stateDb, inbox ?? "inbox") }
        return (String(inbox[..<dot]), String(inbox[inbox.index(after: dot)...]))
    }

    /// The inbox consumer: `--inbox`, refused documents kept in `<state-db>.inboxRejected`.
    func inboxConsumer(_ runtime: LetheRuntime, intake: RequestIntake? = nil) -> InboxConsumer {
        let inbox = inboxNamespace
        return InboxConsumer(
            collection: runtime.pool.database(inbox.database).collection(inbox.collection),
            intake: intake ?? RequestIntake(engine: runtime.engine),
            rejected: runtime.pool.database(stateDb).collection(LetheNamespaces.inboxRejectedCollection)
        )
    }

    var engineOptions: ErasureEngine.Options {
        ErasureEngine.Options(batchSize: batchSize, maxDocumentsPerRequest: maxDocuments)
    }
}

/// The user named on the command line.
struct SubjectOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The deleted user's id, as the auth system gave it.", valueName: "id"))
    var user: String

    @Option(name: .long, help: ArgumentHelp("Id of a linked identity (repeatable).", valueName: "id"))
    var identity: [String] = []

    func validate() throws {
        // The same bound as an event's (DeletionEventParser.Options.maximumIdentities).
        let maximum = DeletionEventParser.Options().maximumIdentities
        guard identity.count <= maximum else {
            throw ValidationError("--identity is given \(identity.count) times; at most \(maximum) identities per user, as for events")
        }
    }

    var subject: ErasureSubject { ErasureSubject(userId: user, identities: identity) }
}

/// Builds the runtime, runs `body`, shuts down, and turns errors into messages and
/// exit codes. `extraClients`: pooled clients `body` holds for itself (serve's change
/// streams), added to the pool so that they take none from the work.
func withRuntime<T>(
    connection: ConnectionOptions, policies: [Policy], engine: EngineOptions, extraClients: Int = 0,
    _ body: (LetheRuntime) async throws -> T
) async throws -> T {
    try engine.check(against: policies)
    var configuration: LetheConfiguration
    do {
        configuration = LetheConfiguration(
            connectionString: try connection.connectionString(), policies: policies, stateDatabase: engine.stateDb,
            hashKey: try PolicyOptions.hashKey(),
            subjectKey: try ProcessInfo.processInfo.environment["LETHE_SUBJECT_KEY"].flatMap { $0.isEmpty ? nil : try SecretKey(text: $0) },
            engine: engine.engineOptions
        )
        configuration.poolSize += extraClients
    } catch let exit as ExitCode {
        throw exit
    } catch {
        throw report(error)
    }
    let runtime = try await start(configuration)
    // One shutdown after the body, whatever its outcome.
    let outcome = await Result { try await body(runtime) }
    await runtime.shutdown()
    switch outcome {
    case .success(let value): return value
    case .failure(let exit as ExitCode): throw exit
    case .failure(let error): throw report(error)
    }
}

private func start(_ configuration: LetheConfiguration) async throws -> LetheRuntime {
    do { return try await LetheRuntime.start(configuration) } catch { throw report(error) }
}

/// Prints what a pass over the queue did and returns the exit code it deserves:
/// 1 if a request failed, 75 if some wait (held, needing approval).
func summarize(_ summary: QueueWorker.Summary) -> ExitCode {
    let failed = summary.count(.failed)
    let waiting = summary.count(.held) + summary.count(.needsApproval)
    print("processed \(summary.processed) request(s): \(summary.count(.done)) done, \(failed) failed, \(waiting) waiting"
          + (summary.leasesLost > 0 ? ", \(summary.leasesLost) taken over by other workers" : ""))
    if failed > 0 {
        print("failed requests: `lethe requests --state failed`; retry one with `lethe retry REQUEST_ID`")
        return LetheExit.failed
    }
    return waiting > 0 ? LetheExit.waiting : .success
}

/// Prints a request's outcome and returns the exit code it deserves.
func summarize(_ request: ErasureRequest, stateDatabase: String) -> ExitCode {
    print("request \(request.id): \(request.state.rawValue)")
    for rule in request.rules {
        let counts = rule.counts.effect(of: rule.action)
        let check: String = switch rule.verification {
        case .passed: ", verified"
        case .failed: ", VERIFICATION FAILED (\(rule.remaining ?? 0) left)"
        case .notApplicable, .notRun: ""
        }
        print("  \(rule.policy) #\(rule.ruleIndex + 1) \(rule.action.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(rule.namespace): matched \(rule.matched), \(counts)\(check)")
    }
    if let note = request.note { print("  \(note)") }
    switch request.state {
    case .done:
        print("receipt: `lethe receipt \(request.id)` (stored in \(stateDatabase).receipts)")
        return .success
    case .held, .needsApproval, .received:
        return LetheExit.waiting
    case .failed, .running:
        return LetheExit.failed
    }
}
