import Foundation

/// Formatting and escaping shared by the renderers. Every text that came from outside
/// this module (policy names, reasons, notes, namespaces, ids) goes through one of the
/// escaping functions of the format it is written into.
enum ReportText {
    /// `2026-11-23T01:07:20Z`.
    static func iso(_ date: Date) -> String { date.formatted(.iso8601) }

    /// `2026-11-23 01:07 UTC`: for people.
    static func minute(_ date: Date) -> String {
        let parts = ComplianceReport.utc.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        return String(format: "%04d-%02d-%02d %02d:%02d UTC",
                      parts.year ?? 0, parts.month ?? 0, parts.day ?? 0, parts.hour ?? 0, parts.minute ?? 0)
    }

    /// Hours with two decimals: `1.50`.
    static func hours(_ time: ElapsedTime) -> String { String(format: "%.2f", time.hours) }

    /// `45 s`, `12 min`, `3.5 h`, `30 d`: the unit a person reads best.
    static func humane(_ time: ElapsedTime) -> String {
        let seconds = abs(time.seconds)
        let sign = time.seconds < 0 ? "-" : ""
        if seconds < 60 { return "\(sign)\(seconds) s" }
        if seconds < 3_600 { return "\(sign)\(Int((Double(seconds) / 60).rounded())) min" }
        if seconds < 48 * 3_600 { return sign + trimmed(Double(seconds) / 3_600) + " h" }
        return sign + trimmed(Double(seconds) / 86_400) + " d"
    }

    /// One decimal, without a trailing `.0`.
    static func trimmed(_ value: Double) -> String {
        let text = String(format: "%.1f", value)
        return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }

    /// `name (sha256:…)`, joined by `; `.
    static func policies(_ references: [PolicyReference]) -> String {
        references.map { "\($0.name) (\($0.fingerprint))" }.joined(separator: "; ")
    }

    // MARK: Escaping

    /// Text safe in HTML element content and in quoted attribute values.
    static func html(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }

    /// Text safe in a Markdown table cell: no markup, no raw HTML, no line breaks.
    static func markdown(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\\", "|", "`", "*", "_", "[", "]", "#": result += "\\" + String(character)
            case "\n", "\r", "\r\n": result += " "
            default: result.append(character)
            }
        }
        return result
    }

    /// An RFC 4180 field: quoted when it holds a comma, a quote or a line break, with
    /// quotes doubled. Text that a spreadsheet would run as a formula (starting with
    /// `=`, `+`, `-`, `@`, a tab or a carriage return) is prefixed with `'`.
    static func csv(_ text: String, isText: Bool = true) -> String {
        var text = text
        if isText, let first = text.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) {
            text = "'" + text
        }
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else {
            return text
        }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
