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
        @OptionGroup var state: StateOptions
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var actor: ActorOptions

        func validate() throws {
            guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--reason cannot be empty") }
        }

        func run() async throws {
            do { try SubjectBinding.checkPlain(user, which: "the user id (--user)") } catch {
                printError("error: \(error)")
                throw LetheExit.invalidInput
            }
            try await withRuntime(connection: connection, policies: [], state: state) { runtime in
                let hold = try await runtime.engine.legalHolds.place(on: ErasureSubject(userId: user), reason: reason, actor: actor.name)
                print("hold \(hold.id) placed on \(hold.subjectPseudonym)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List holds.")
        @OptionGroup var output: FormatOptions
        @OptionGroup var state: StateOptions
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            try await withRuntime(connection: connection, policies: [], state: state) { runtime in
                let holds = try await runtime.state.holds()
                for hold in holds {
                    if output.effective == .json {
                        try printJSONLine(["id": hold.id, "createdAt": isoDate(hold.createdAt), "subjectPseudonym": hold.subjectPseudonym,
                                           "reason": hold.reason])
                        continue
                    }
                    print("\(hold.id)  \(ISO8601DateFormatter().string(from: hold.createdAt))  \(hold.subjectPseudonym)  \(hold.reason)")
                }
                if holds.isEmpty, output.effective == .text { print("no holds") }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lift a hold; held requests run on their next run.")
        @Argument(help: "The hold id (hold_...).") var holdId: String
        @OptionGroup var state: StateOptions
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var actor: ActorOptions

        func run() async throws {
            try await withRuntime(connection: connection, policies: [], state: state) { runtime in
                guard try await runtime.engine.legalHolds.lift(holdId: holdId, actor: actor.name) else {
                    printError("error: no hold \(holdId); `lethe hold list` lists them")
                    throw LetheExit.invalidInput
                }
                print("hold \(holdId) lifted")
            }
        }
    }
}
