import ArgumentParser
import LetheCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

@main
struct Lethe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lethe",
        abstract: "Erase or anonymize a deleted user's data in MongoDB, by policy, with receipts.",
        discussion: """
            Policies in policies/*.yaml say which documents belong to a user and what happens \
            to them. The connection comes from --uri or LETHE_MONGODB_URI.

            Exit codes: 0 success; 1 a request failed or verification found data left; \
            64 bad usage; 65 invalid policy or input; 69 MongoDB unavailable; \
            75 waiting (erase, approve: the request is held or needs approval). `run --once` counts \
            waiting requests in its summary and exits 0 for them, unless --waiting-exit-code says otherwise.
            """,
        version: LetheVersion.current,
        subcommands: [
            ValidateCommand.self, EraseCommand.self, PlanCommand.self, ReceiptCommand.self, RequestsCommand.self,
            EnqueueCommand.self, RunCommand.self, ReportCommand.self, AuditCommand.self, ServeCommand.self, SweepCommand.self, CoverageCommand.self, RetryCommand.self, RefusalsCommand.self, HoldCommand.self, ApproveCommand.self, PingCommand.self,
        ]
    )

    nonisolated static func main() async {
        #if canImport(Glibc)
        // glibc gives each thread that allocates its own heap arena (up to 8 per core),
        // and each keeps what it freed: a backlog of batches of 500 on the thread pools
        // grew peak memory from 64 to 90 MiB. Two arenas keep it flat, at no measurable
        // cost in speed (docs/benchmarks.md). Set before any other thread starts.
        // (`mallopt` is in malloc.h, which the Glibc module leaves out; M_ARENA_MAX is -8.)
        typealias MallocOption = @convention(c) (Int32, Int32) -> Int32
        if let symbol = dlsym(nil, "mallopt") { _ = unsafeBitCast(symbol, to: MallocOption.self)(-8, 2) }
        #endif
        let names = configuration.subcommands.compactMap { $0.configuration.commandName }
        if let problem = CommandSuggestion.problem(with: Array(CommandLine.arguments.dropFirst()), known: names) {
            printError(problem)
            exit(withError: ExitCode.validationFailure)
        }
        do {
            // The default `main`, with logging bootstrapped once between parsing and running.
            // (nonisolated(unsafe): the command is parsed and run by this task alone.)
            var command = try await asyncParseAsRoot()
            if let logged = command as? any LoggingCommand { logged.logging.bootstrap() } else { LoggingOptions.bootstrapFromEnvironment() }
            if let parsed = command as? any AsyncParsableCommand {
                nonisolated(unsafe) var asyncCommand = parsed
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
