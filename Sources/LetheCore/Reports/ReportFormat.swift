import Foundation

/// The forms a compliance report is written in.
public enum ReportFormat: String, Sendable, Hashable, Codable, CaseIterable {
    /// One self-contained page with charts, for people; prints cleanly.
    case html
    /// Markdown with tables.
    case md
    /// Stable JSON described by docs/report-schema.json (`"schema": "lethe.report/v1"`).
    case json
    /// One row per request, RFC 4180.
    case csv

    /// The usual file name extension.
    public var fileExtension: String { rawValue }
}

/// A report that cannot be read back.
public struct ReportError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

extension ComplianceReport {
    /// The report in `format`. Only `json` can throw (an encoding error).
    public func render(_ format: ReportFormat) throws -> String {
        switch format {
        case .html: ReportHTML(report: self).render()
        case .md: ReportMarkdown(report: self).render()
        case .json: try json()
        case .csv: csv()
        }
    }

    /// The encoder of the JSON form: sorted keys, ISO-8601 UTC dates, pretty-printed.
    public static var jsonEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    /// Reads a report back from its JSON form; refuses any schema but `schemaIdentifier`.
    public static func decode(json data: Data) throws -> ComplianceReport {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        struct Header: Decodable { var schema: String? }
        let schema = try decoder.decode(Header.self, from: data).schema
        guard schema == schemaIdentifier else {
            throw ReportError(message: "the report's schema is \(schema.map { "'\($0)'" } ?? "missing"); this build reads '\(schemaIdentifier)'")
        }
        return try decoder.decode(ComplianceReport.self, from: data)
    }

    func json() throws -> String {
        String(decoding: try Self.jsonEncoder.encode(self), as: UTF8.self) + "\n"
    }

    /// The CSV columns, in order.
    public static let csvColumns = [
        "id", "received", "due", "finished", "state", "source",
        "hours_to_complete", "seconds_to_complete", "overdue", "policies",
    ]

    func csv() -> String {
        var rows = [Self.csvColumns.joined(separator: ",")]
        for line in requests {
            let fields: [String] = [
                ReportText.csv(line.id),
                ReportText.iso(line.receivedAt),
                line.dueAt.map(ReportText.iso) ?? "",
                line.finishedAt.map(ReportText.iso) ?? "",
                line.state.rawValue,
                ReportText.csv(line.source.rawValue),
                line.timeToComplete.map(ReportText.hours) ?? "",
                line.timeToComplete.map { String($0.seconds) } ?? "",
                line.overdue ? "yes" : "no",
                ReportText.csv(ReportText.policies(line.policies)),
            ]
            rows.append(fields.joined(separator: ","))
        }
        return rows.joined(separator: "\r\n") + "\r\n"
    }
}
