import ArgumentParser
import LetheCore
import Foundation
import LetheService

struct ReceiptCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receipt",
        abstract: "Print the receipt of a finished request: text, JSON, or a certificate of erasure (md, html)."
    )

    @Argument(help: "The request id (req_...).") var requestId: String
    @Flag(name: .long, help: "Print JSON (same as --format json).") var json = false
    @Option(name: .long, help: "text, json, md or html (a certificate of erasure).") var format: String = "text"

    func validate() throws {
        guard ["text", "json", "md", "html"].contains(format) else { throw ValidationError("--format must be text, json, md or html") }
    }
    @OptionGroup var engine: EngineOptions
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await withRuntime(connection: connection, policies: [], engine: engine) { runtime in
            guard let receipt = try await runtime.state.receipt(requestId: requestId) else {
                if let request = try await runtime.state.request(id: requestId) {
                    printError("error: request \(requestId) is \(request.state.rawValue) and has no receipt yet\(request.note.map { ": \($0)" } ?? "")")
                } else {
                    printError("error: no request \(requestId) in \(engine.stateDb); `lethe requests` lists them")
                }
                throw LetheExit.invalidInput
            }
            switch json ? "json" : format {
            case "json": print(try receipt.json())
            case "md": print(receipt.markdown, terminator: "")
            case "html": print(receipt.html, terminator: "")
            default: print(receipt.text)
            }
        }
    }
}

struct RequestsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "requests",
        abstract: "List requests, newest first."
    )

    @Option(name: .long, help: "Only requests in this state (received, held, needs-approval, running, done, failed).")
    var state: String?
    @Option(name: .long, help: "Most requests to list.") var limit: Int = 50
    @OptionGroup var engine: EngineOptions
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        if let state, ErasureRequest.State(rawValue: state) == nil {
            throw ValidationError("--state must be one of \(ErasureRequest.State.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        try await withRuntime(connection: connection, policies: [], engine: engine) { runtime in
            let requests = try await runtime.state.requests(states: state.flatMap(ErasureRequest.State.init(rawValue:)).map { [$0] }, limit: limit)
            for request in requests {
                print("\(request.id)  \(request.state.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0)) \(request.source)  \(request.subjectPseudonym)\(request.note.map { "  \($0)" } ?? "")")
            }
            if requests.isEmpty { print("no requests") }
        }
    }
}

struct RefusalsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refusals",
        abstract: "List deletion events refused at intake, newest first, with the reason."
    )

    @Option(name: .long, help: "Most refusals to list.") var limit: Int = 50
    @OptionGroup var engine: EngineOptions
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await withRuntime(connection: connection, policies: [], engine: engine) { runtime in
            let refusals = try await runtime.state.refusals(limit: limit)
            for refusal in refusals {
                print("\(refusal.id)  \(ISO8601DateFormatter().string(from: refusal.at))  \(refusal.channel)  \(refusal.code)  \(refusal.message)")
            }
            if refusals.isEmpty { print("no refusals") }
        }
    }
}
