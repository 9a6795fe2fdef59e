import Foundation

extension Receipt {
    /// Stable JSON: sorted keys, ISO-8601 dates.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// A short text a person reads on a terminal.
    public var text: String {
        let iso = ISO8601DateFormatter()
        var lines = [
            "Receipt for request \(requestId): \(outcome)",
            "  user (pseudonym)  \(subjectPseudonym)",
            "  received          \(iso.string(from: receivedAt))" + (dueAt.map { "   due \(iso.string(from: $0))" } ?? ""),
            "  finished          \(iso.string(from: finishedAt))",
            "  policies          " + policies.map { "\($0.name) (\($0.fingerprint))" }.joined(separator: ", "),
        ]
        for rule in rules {
            lines.append("  " + rule.summary)
        }
        if let note { lines.append("  note: \(note)") }
        return lines.joined(separator: "\n")
    }
}

extension Receipt.Rule {
    var summary: String {
        let iso = ISO8601DateFormatter()
        let head = "\(policy) #\(ruleIndex + 1) \(action) \(namespace): matched \(matched)"
        let outcome: String = switch action {
        case "delete": ", deleted \(deleted)"
        case "anonymize": ", anonymized \(modified)"
        case "pull": ", pulled from \(modified)"
        default: ", retained \(retained): \(retainReason ?? "")" + (retainedUntil.map { " (until \(iso.string(from: $0)))" } ?? "")
        }
        let check = verification == "failed" ? " — VERIFICATION FAILED, \(remaining ?? 0) left" : (verification == "passed" ? ", verified" : "")
        return head + outcome + check
    }
}
