import ArgumentParser
import Foundation
import LetheCore
import LetheService

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "A compliance report for a period: requests, timeliness, what was erased and kept and why, sweeps, policies.",
        discussion: """
            Dates are UTC days (2026-11-01) or ISO-8601 times; --to is exclusive. Formats: html (one \
            self-contained file with charts), md, json (schema lethe.report/v1, docs/report-schema.json), \
            csv (one row per request). The report holds no personal data.
            """
    )

    @Option(name: .long, help: ArgumentHelp("Start of the period (default: 30 days before --to).", valueName: "date"))
    var from: String?
    @Option(name: .long, help: ArgumentHelp("End of the period, exclusive (default: now).", valueName: "date"))
    var to: String?
    @Option(name: .long, help: "html, md, json or csv.") var format: String = "md"
    @Option(name: .long, help: ArgumentHelp("Write to this file instead of standard output.", valueName: "file"))
    var out: String?
    @OptionGroup var state: StateOptions
    @OptionGroup var connection: ConnectionOptions

    static func date(_ text: String, flag: String) throws -> Date {
        let full = ISO8601DateFormatter()
        if let date = full.date(from: text) { return date }
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        if let date = day.date(from: text) { return date }
        throw ValidationError("\(flag) '\(text)' is not a date: use 2026-11-01 or 2026-11-01T00:00:00Z")
    }

    var period: DateInterval {
        get throws {
            // Default end: the next whole second, since the report counts in whole seconds
            // and "now" cut down would leave out what arrived earlier this second.
            let end = try to.map { try Self.date($0, flag: "--to") } ?? Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 1).rounded(.down))
            let start = try from.map { try Self.date($0, flag: "--from") } ?? end.addingTimeInterval(-30 * 86_400)
            guard start < end else { throw ValidationError("--from must be before --to") }
            return DateInterval(start: start, end: end)
        }
    }

    func validate() throws {
        guard ReportFormat(rawValue: format) != nil else { throw ValidationError("--format must be html, md, json or csv") }
        _ = try period
    }

    func run() async throws {
        let period = try period
        let reportFormat = ReportFormat(rawValue: format)!
        try await withRuntime(connection: connection, policies: [], state: state) { runtime in
            let report = try await runtime.state.reportInputs(period: period).report(period: period, now: Date())
            let text = try report.render(reportFormat)
            if let out {
                do {
                    try text.write(to: URL(fileURLWithPath: out), atomically: true, encoding: .utf8)
                } catch {
                    printError("error: cannot write \(out): \((error as NSError).localizedDescription)")
                    throw LetheExit.invalidInput
                }
                printError("report written to \(out)")
            } else {
                print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
            }
        }
    }
}
