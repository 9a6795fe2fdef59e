import ArgumentParser
import Foundation
import LetheCore
import LetheService

struct RefusalsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refusals",
        abstract: "List deletion events refused at intake, newest first, with the reason."
    )

    @Option(name: .long, help: "Most refusals to list.") var limit: Int = 50
    @OptionGroup var output: FormatOptions
    @OptionGroup var state: StateOptions
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await withRuntime(connection: connection, policies: [], state: state) { runtime in
            let refusals = try await runtime.state.refusals(limit: limit)
            for refusal in refusals {
                if output.effective == .json {
                    try printJSONLine(["id": refusal.id, "at": isoDate(refusal.at), "channel": refusal.channel.rawValue,
                                       "code": refusal.code, "field": refusal.field, "message": refusal.message])
                    continue
                }
                print("\(refusal.id)  \(ISO8601DateFormatter().string(from: refusal.at))  \(refusal.channel)  \(refusal.code)  \(refusal.message)")
            }
            if refusals.isEmpty, output.effective == .text { print("no refusals") }
        }
    }
}
