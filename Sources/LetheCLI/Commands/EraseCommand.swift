import ArgumentParser
import Foundation
import LetheCore
import LetheService

struct EraseCommand: AsyncParsableCommand, LoggingCommand {
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
    @OptionGroup var state: StateOptions
    @OptionGroup var erasure: ErasureOptions
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var logging: LoggingOptions
    @OptionGroup var actor: ActorOptions
    @OptionGroup var lease: LeaseOptions

    func run() async throws {
        let policies = try policyOptions.load(hashKeyConfigured: try PolicyOptions.hashKey() != nil)
        let code = try await withRuntime(connection: connection, policies: policies, state: state, erasure: erasure.engineOptions) { runtime in
            var request: ErasureRequest
            do {
                request = try await runtime.engine.admission.submit(subject.subject, source: .cli, reason: reason)
                // Asked again after a failure: the person retries it.
                if request.state == .failed { request = try await runtime.engine.admission.retry(requestId: request.id, actor: actor.name) }
            } catch let error as EngineError {
                printError("error: \(error)")
                throw LetheExit.invalidInput
            }
            return try await runNow(request, runtime: runtime, stateDatabase: state.stateDb, lease: lease)
        }
        throw code
    }
}
