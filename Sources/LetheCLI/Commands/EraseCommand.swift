import ArgumentParser
import Foundation
import LetheCore
import LetheService

struct EraseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "erase",
        abstract: "Erase a deleted user's data now, by the policies, and store a receipt.",
        discussion: """
            Records a request in the state database and carries it out. Run it again after \
            an interruption: the user's open request resumes where it stopped, and a finished \
            one changes nothing. LETHE_HASH_KEY is needed by policies that hash or pseudonymize.
            """
    )

    @OptionGroup var subject: SubjectOptions
    @Option(name: .long, help: ArgumentHelp("Why the data is erased (kept while the request is open, removed when it is done).", valueName: "text"))
    var reason: String?
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var engine: EngineOptions
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var actor: ActorOptions

    func run() async throws {
        let policies = try policyOptions.load(hashKeyConfigured: try PolicyOptions.hashKey() != nil)
        let code = try await withRuntime(connection: connection, policies: policies, engine: engine) { runtime in
            var request: ErasureRequest
            do {
                request = try await runtime.engine.admission.submit(subject.subject, source: .cli, reason: reason)
                // Asked again after a failure: the person retries it.
                if request.state == .failed { request = try await runtime.engine.admission.retry(requestId: request.id, actor: actor.name) }
            } catch let error as EngineError {
                printError("error: \(error)")
                throw LetheExit.invalidInput
            }
            return try await runNow(request, runtime: runtime, stateDatabase: engine.stateDb)
        }
        throw code
    }
}

/// Runs one request now under a lease, as the queue would, and says how it ended; a
/// request another worker holds is left to it.
func runNow(_ request: ErasureRequest, runtime: LetheRuntime, stateDatabase: String) async throws -> ExitCode {
    if let finished = try await QueueWorker(engine: runtime.engine).run(requestId: request.id) {
        return summarize(finished, stateDatabase: stateDatabase)
    }
    let current = try await runtime.state.request(id: request.id) ?? request
    if current.state == .running, let lease = current.lease {
        print("request \(current.id) is being erased by another worker (lease until \(ISO8601DateFormatter().string(from: lease.expiresAt))); "
              + "`lethe receipt \(current.id)` once it is done")
        return LetheExit.waiting
    }
    return summarize(current, stateDatabase: stateDatabase)
}

struct ApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Let a request that exceeded the document limit run, and run it now."
    )

    @Argument(help: "The request id (req_...).") var requestId: String
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var engine: EngineOptions
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var actor: ActorOptions

    func run() async throws {
        let policies = try policyOptions.load(hashKeyConfigured: try PolicyOptions.hashKey() != nil)
        let code = try await withRuntime(connection: connection, policies: policies, engine: engine) { runtime in
            let approved: ErasureRequest
            do { approved = try await runtime.engine.admission.approve(requestId: requestId, actor: actor.name) } catch let error as EngineError {
                printError("error: \(error)")
                throw LetheExit.invalidInput
            }
            print("approved \(approved.id)")
            return try await runNow(approved, runtime: runtime, stateDatabase: engine.stateDb)
        }
        throw code
    }
}
