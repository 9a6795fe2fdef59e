import ArgumentParser
import Foundation
import LetheCore
import LetheService

struct RetryCommand: AsyncParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Put a failed request back in the queue (the next `lethe run --once` takes it)."
    )

    @Argument(help: "The request id (req_...).") var requestId: String
    @OptionGroup var state: StateOptions
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var logging: LoggingOptions
    @OptionGroup var actor: ActorOptions

    func run() async throws {
        try await withRuntime(connection: connection, policies: [], state: state) { runtime in
            do {
                let request = try await runtime.engine.admission.retry(requestId: requestId, actor: actor.name)
                print("request \(request.id) is \(request.state.rawValue) again; `lethe run --once` processes it")
            } catch let error as EngineError {
                printError("error: \(error)")
                throw LetheExit.invalidInput
            }
        }
    }
}
