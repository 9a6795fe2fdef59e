import ArgumentParser
import Foundation

/// How a command prints records: text for people, or JSON for machines (JSON Lines, one
/// record per line, for lists; one object for a single record).
enum RecordFormat: String, CaseIterable, ExpressibleByArgument {
    case text, json
}

/// `--format text|json`, and the deprecated `--json` (hidden) that means `--format json`.
struct FormatOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Print text, or JSON for machines.", valueName: "text|json"))
    var format: RecordFormat = .text

    @Flag(name: .long, help: .hidden) var json = false

    var effective: RecordFormat { json ? .json : format }
}

/// Prints one record as a line of JSON (keys sorted, dates ISO 8601, nil values left out).
func printJSONLine(_ record: [String: Any?]) throws {
    let data = try JSONSerialization.data(withJSONObject: record.compactMapValues { $0 }, options: [.sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: data, as: UTF8.self))
}

/// A date as the JSON records write it.
func isoDate(_ date: Date?) -> String? {
    date.map { ISO8601DateFormatter().string(from: $0) }
}
