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
    @Flag(name: .long, help: .hidden) var json = false
    @Option(name: .long, help: "text, json, md or html (a certificate of erasure).") var format: String = "text"

    func validate() throws {
        guard ["text", "json", "md", "html"].contains(format) else { throw ValidationError("--format must be text, json, md or html") }
    }
    @OptionGroup var state: StateOptions
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await withRuntime(connection: connection, policies: [], state: state) { runtime in
            guard let receipt = try await runtime.state.receipt(requestId: requestId) else {
                if let request = try await runtime.state.request(id: requestId) {
                    printError("error: request \(requestId) is \(request.state.rawValue) and has no receipt yet\(request.note.map { ": \($0)" } ?? "")")
                } else {
                    printError("error: no request \(requestId) in \(state.stateDb); `lethe requests` lists them")
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
