import ArgumentParser
import Foundation
import LetheCore
import LetheService

struct HoldCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hold",
        abstract: "Legal holds: while one stands, a user's requests change nothing.",
        subcommands: [Add.self, List.self, Remove.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Place a hold on a user.")
        @Option(name: .long, help: "The user's id.") var user: String
        @Option(name: .long, help: "Why (a case or letter reference; no personal data).") var reason: String
        @OptionGroup var engine: EngineOptions
        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--reason cannot be empty") }
        }

        func run() async throws {
            do { try SubjectBinding.checkPlain(user, which: "the user id (--user)") } catch {
                printError("error: \(error)")
                throw LetheExit.invalidInput
            }
            try await withRuntime(connection: connection, policies: [], engine: engine) { runtime in
                let pseudonym = SubjectPseudonymizer(key: try await runtime.state.subjectKey())
                    .pseudonym(for: ErasureSubject(userId: user))
                let hold = LegalHold(id: LegalHold.newID(), subjectPseudonym: pseudonym, reason: reason, createdAt: Date())
                try await runtime.state.addHold(hold)
                print("hold \(hold.id) placed on \(pseudonym)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List holds.")
        @OptionGroup var engine: EngineOptions
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            try await withRuntime(connection: connection, policies: [], engine: engine) { runtime in
                let holds = try await runtime.state.holds()
                for hold in holds {
                    print("\(hold.id)  \(ISO8601DateFormatter().string(from: hold.createdAt))  \(hold.subjectPseudonym)  \(hold.reason)")
                }
                if holds.isEmpty { print("no holds") }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lift a hold; held requests run on their next run.")
        @Argument(help: "The hold id (hold_...).") var holdId: String
        @OptionGroup var engine: EngineOptions
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            try await withRuntime(connection: connection, policies: [], engine: engine) { runtime in
                guard try await runtime.state.removeHold(id: holdId) else {
                    printError("error: no hold \(holdId); `lethe hold list` lists them")
                    throw LetheExit.invalidInput
                }
                print("hold \(holdId) lifted")
            }
        }
    }
}
