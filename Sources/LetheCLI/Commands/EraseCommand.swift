import ArgumentParser
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
    @Option(name: .long, help: ArgumentHelp("Why the data is erased (recorded with the request).", valueName: "text"))
    var reason: String?
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var engine: EngineOptions
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let policies = try policyOptions.load(hashKeyConfigured: try PolicyOptions.hashKey() != nil)
        let code = try await withRuntime(connection: connection, policies: policies, engine: engine) { runtime in
            let request: ErasureRequest
            do {
                request = try await runtime.engine.admission.submit(subject.subject, source: .cli, reason: reason)
            } catch let error as EngineError {
                printError("error: \(error)")
                throw LetheExit.invalidInput
            }
            let finished = try await runtime.engine.eraser().run(request)
            return summarize(finished, stateDatabase: engine.stateDb)
        }
        throw code
    }
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

    func run() async throws {
        let policies = try policyOptions.load(hashKeyConfigured: try PolicyOptions.hashKey() != nil)
        let code = try await withRuntime(connection: connection, policies: policies, engine: engine) { runtime in
            let approved: ErasureRequest
            do { approved = try await runtime.engine.admission.approve(requestId: requestId) } catch let error as EngineError {
                printError("error: \(error)")
                throw LetheExit.invalidInput
            }
            print("approved \(approved.id)")
            return summarize(try await runtime.engine.eraser().run(approved), stateDatabase: engine.stateDb)
        }
        throw code
    }
}
