import ArgumentParser
import LetheCore
import LetheService

struct ApproveCommand: AsyncParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Let a request that exceeded the document limit run, and run it now."
    )

    @Argument(help: "The request id (req_...).") var requestId: String
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
            let approved: ErasureRequest
            do { approved = try await runtime.engine.admission.approve(requestId: requestId, actor: actor.name) } catch let error as EngineError {
                printError("error: \(error)")
                throw LetheExit.invalidInput
            }
            print("approved \(approved.id)")
            return try await runNow(approved, runtime: runtime, stateDatabase: state.stateDb, lease: lease)
        }
        throw code
    }
}
