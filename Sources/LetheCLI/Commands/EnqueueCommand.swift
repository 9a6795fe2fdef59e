import ArgumentParser
import Foundation
import LetheCore
import LetheService

struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Record deletion events as requests (App Services authentication events or CloudEvents).",
        discussion: """
            The file holds one JSON event, a JSON array of events, or JSON Lines; `-` reads \
            standard input. The same event twice is one request. Refused events are listed \
            with their reason and recorded; nothing is erased until `lethe run --once` or `lethe serve`.
            """
    )

    @Option(name: .long, help: ArgumentHelp("The events: a file, or - for standard input.", valueName: "file"))
    var eventFile: String
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var engine: EngineOptions
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let body: Data
        do {
            body = eventFile == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: eventFile))
        } catch {
            printError("error: cannot read \(eventFile): \((error as NSError).localizedDescription)")
            throw LetheExit.invalidInput
        }
        let policies = try policyOptions.load(hashKeyConfigured: try PolicyOptions.hashKey() != nil)
        let code = try await withRuntime(connection: connection, policies: policies, engine: engine) { runtime in
            let summary = try await RequestIntake(engine: runtime.engine).receive(Array(body), channel: .cli)
            for accepted in summary.accepted {
                print("\(accepted.duplicate ? "already recorded" : "recorded") \(accepted.requestId)")
            }
            for refused in summary.refused {
                printError("refused event \(refused.position.map { "#\($0 + 1)" } ?? ""): \(refused.code): \(refused.message)")
            }
            print("\(summary.accepted.filter { !$0.duplicate }.count) new request(s), \(summary.accepted.filter(\.duplicate).count) already recorded, \(summary.ignored) ignored, \(summary.refused.count) refused")
            return summary.refused.isEmpty ? ExitCode.success : LetheExit.invalidInput
        }
        throw code
    }
}
