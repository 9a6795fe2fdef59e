import ArgumentParser
import Foundation
import LetheCore
import LetheService

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "The audit trail: every action Lethe took, oldest first (of one request, or of a period).",
        discussion: "Append-only; Lethe never changes or removes an entry. Keep it at least 24 months (CCPA record keeping)."
    )

    @Option(name: .long, help: ArgumentHelp("Only this request.", valueName: "id")) var request: String?
    @Option(name: .long, help: ArgumentHelp("Start (2026-11-01 or ISO-8601).", valueName: "date")) var from: String?
    @Option(name: .long, help: ArgumentHelp("End, exclusive.", valueName: "date")) var to: String?
    @OptionGroup var output: FormatOptions
    @OptionGroup var state: StateOptions
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        var period: DateInterval?
        if from != nil || to != nil {
            let end = try to.map { try ReportCommand.date($0, flag: "--to") } ?? Date().addingTimeInterval(1)
            let start = try from.map { try ReportCommand.date($0, flag: "--from") } ?? .distantPast
            guard start < end else { throw ValidationError("--from must be before --to") }
            period = DateInterval(start: start, end: end)
        }
        try await withRuntime(connection: connection, policies: [], state: state) { runtime in
            let entries = try await runtime.state.auditTrail(requestId: request, period: period)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
            let iso = ISO8601DateFormatter()
            for entry in entries {
                if output.effective == .json {
                    print(String(decoding: try encoder.encode(entry), as: UTF8.self))
                } else {
                    let counts = entry.counts.map { " " + $0.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") } ?? ""
                    print("\(iso.string(from: entry.at))  \(entry.event.rawValue.padding(toLength: 19, withPad: " ", startingAt: 0)) \(entry.requestId ?? "-")\(entry.rule.map { "  \($0)" } ?? "")\(counts)\(entry.note.map { "  \($0)" } ?? "")")
                    for line in entry.details ?? [] { print("      \(line)") }
                }
            }
            if entries.isEmpty, output.effective == .text { print("no audit entries") }
        }
    }
}
