import ArgumentParser
import LetheCore

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
            75 waiting (held or needs approval).
            """,
        version: LetheVersion.current,
        subcommands: [
            ValidateCommand.self, EraseCommand.self, PlanCommand.self, ReceiptCommand.self, RequestsCommand.self,
            EnqueueCommand.self, RunCommand.self, ReportCommand.self, AuditCommand.self, ServeCommand.self, SweepCommand.self, RetryCommand.self, RefusalsCommand.self, HoldCommand.self, ApproveCommand.self, PingCommand.self,
        ]
    )
}
