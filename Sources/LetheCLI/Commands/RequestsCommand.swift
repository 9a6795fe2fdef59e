import ArgumentParser
import Foundation
import LetheCore
import LetheService

struct RequestsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "requests",
        abstract: "List requests, newest first."
    )

    @Option(name: .long, help: "Only requests in this state (received, held, needs-approval, running, done, failed).")
    var state: String?
    @Option(name: .long, help: "Most requests to list.") var limit: Int = 50
    @OptionGroup var output: FormatOptions
    @OptionGroup var stateOptions: StateOptions
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        if let state, ErasureRequest.State(rawValue: state) == nil {
            throw ValidationError("--state must be one of \(ErasureRequest.State.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        try await withRuntime(connection: connection, policies: [], state: stateOptions) { runtime in
            let requests = try await runtime.state.requests(states: state.flatMap(ErasureRequest.State.init(rawValue:)).map { [$0] }, limit: limit)
            for request in requests {
                if output.effective == .json {
                    try printJSONLine(["id": request.id, "state": request.state.rawValue, "source": request.source.rawValue,
                                       "subjectPseudonym": request.subjectPseudonym, "receivedAt": isoDate(request.receivedAt),
                                       "dueAt": isoDate(request.dueAt), "finishedAt": isoDate(request.finishedAt), "note": request.note])
                    continue
                }
                print("\(request.id)  \(request.state.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0)) \(request.source.rawValue)  \(request.subjectPseudonym)\(request.note.map { "  \($0)" } ?? "")")
            }
            if requests.isEmpty, output.effective == .text { print("no requests") }
        }
    }
}
