import ArgumentParser
import Foundation
import LetheCore
import LetheService

struct EnqueueCommand: AsyncParsableCommand, LoggingCommand {
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
    @OptionGroup var state: StateOptions
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let body: Data
        do {
            body = try readBounded()
        } catch {
            printError("error: cannot read \(eventFile): \((error as NSError).localizedDescription)")
            throw LetheExit.invalidInput
        }
        let policies = try policyOptions.load(hashKeyConfigured: try PolicyOptions.hashKey() != nil)
        let code = try await withRuntime(connection: connection, policies: policies, state: state) { runtime in
            let summary = try await RequestIntake(engine: runtime.engine).receive(Array(body), channel: .cli)
            for accepted in summary.accepted {
                print("\(accepted.duplicate ? "already recorded" : "recorded") \(accepted.requestId)")
            }
            // `position` is the event's place in the body, from 0; the message says its line or element.
            for refused in summary.refused {
                printError("refused event \(refused.position.map { "#\($0 + 1)" } ?? ""): \(refused.code): \(refused.message)")
            }
            print("\(summary.accepted.filter { !$0.duplicate }.count) new request(s), \(summary.accepted.filter(\.duplicate).count) already recorded, \(summary.ignored) ignored, \(summary.refused.count) refused")
            return summary.refused.isEmpty ? ExitCode.success : LetheExit.invalidInput
        }
        throw code
    }

    /// The events, read up to one byte more than the parser accepts: a larger body is
    /// refused (`oversized`) without being read into memory whole.
    func readBounded() throws -> Data {
        let limit = DeletionEventParser.Options().maximumBytes + 1
        let handle = eventFile == "-" ? FileHandle.standardInput : try FileHandle(forReadingFrom: URL(fileURLWithPath: eventFile))
        defer { if eventFile != "-" { try? handle.close() } }
        var data = Data()
        while data.count < limit, let chunk = try handle.read(upToCount: limit - data.count), !chunk.isEmpty {
            data.append(chunk)
        }
        return data
    }
}
