import Foundation

extension Receipt {
    /// Stable JSON: sorted keys, ISO-8601 dates.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        // Each rule also says its number as people count (`"rule": 1` for `"ruleIndex": 0`,
        // the stored field), as every other output of lethe numbers rules.
        guard var object = try JSONSerialization.jsonObject(with: try encoder.encode(self)) as? [String: Any],
              let rules = object["rules"] as? [[String: Any]] else { return String(decoding: try encoder.encode(self), as: UTF8.self) }
        object["rules"] = rules.map { rule in
            var numbered = rule
            numbered["rule"] = (rule["ruleIndex"] as? Int).map { $0 + 1 }
            return numbered
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// A short text a person reads on a terminal.
    public var text: String {
        let iso = ISO8601DateFormatter()
        var lines = [
            "Receipt for request \(requestId): \(outcome.rawValue)",
            "  user (pseudonym)  \(subjectPseudonym)",
            "  received          \(iso.string(from: receivedAt))" + (dueAt.map { "   due \(iso.string(from: $0))" } ?? ""),
            "  finished          \(iso.string(from: finishedAt))",
            "  policies          " + policies.map { "\($0.name) (\($0.fingerprint))" }.joined(separator: ", "),
        ]
        if let lookups {
            lines.append("  lookups           " + lookups.map { "\($0.policy).\($0.lookup): \($0.values) value(s)" }.joined(separator: ", "))
        }
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
        let head = "\(policy) #\(ruleIndex + 1) \(action.rawValue) \(namespace): matched \(matched)"
        var outcome = ", " + counts.effect(of: action)
        if action == .retain {
            outcome += ": \(retainReason ?? "")" + (retainedUntil.map { " (until \(iso.string(from: $0)))" } ?? "")
        }
        let check = switch verification {
        case .failed: " — VERIFICATION FAILED, \(remaining ?? 0) left"
        case .passed: ", verified"
        case .notApplicable, .notRun: ""
        }
        return head + outcome + check
    }
}

extension Receipt {
    /// The receipt as Markdown: a certificate of erasure for one request.
    public var markdown: String {
        let iso = ISO8601DateFormatter()
        var lines = [
            "# Certificate of erasure",
            "",
            "Request `\(requestId)`: **\(outcome.rawValue)**.",
            "",
            "| | |", "| --- | --- |",
            "| User (keyed pseudonym) | `\(subjectPseudonym)` |",
            "| Channel | \(source.rawValue) |",
            "| Received | \(iso.string(from: receivedAt)) |",
            "| Due | \(dueAt.map(iso.string(from:)) ?? "-") |",
            "| Started | \(startedAt.map(iso.string(from:)) ?? "-") |",
            "| Finished | \(iso.string(from: finishedAt)) |",
            "| Policies | \(policies.map { "\($0.name) (`\($0.fingerprint)`)" }.joined(separator: ", ")) |",
            "| Lethe | \(letheVersion) |",
            "",
            "| Policy | Rule | Collection | Action | Matched | Deleted | Anonymized / pulled | Retained | Verification |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for rule in rules {
            let retained = rule.retained == 0 ? "0" : "\(rule.retained): \(rule.retainReason ?? "")" + (rule.retainedUntil.map { " (until \(iso.string(from: $0)))" } ?? "")
            lines.append("| \(rule.policy) | #\(rule.ruleIndex + 1) | \(rule.namespace) | \(rule.action.rawValue) | \(rule.matched) | \(rule.deleted) | \(rule.modified) | \(retained) | \(rule.verification.rawValue)\(rule.remaining.map { $0 > 0 ? " (\($0) left)" : "" } ?? "") |")
        }
        if let note { lines += ["", "Note: \(note)"] }
        lines += ["", Self.statement(outcome)]
        return lines.joined(separator: "\n") + "\n"
    }

    /// The receipt as one self-contained HTML page (no network), printable.
    public var html: String {
        let iso = ISO8601DateFormatter()
        func e(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        let facts: [(String, String)] = [
            ("Request", requestId), ("Outcome", outcome.rawValue), ("User (keyed pseudonym)", subjectPseudonym), ("Channel", source.rawValue),
            ("Received", iso.string(from: receivedAt)), ("Due", dueAt.map(iso.string(from:)) ?? "-"),
            ("Started", startedAt.map(iso.string(from:)) ?? "-"), ("Finished", iso.string(from: finishedAt)),
            ("Policies", policies.map { "\($0.name) (\($0.fingerprint))" }.joined(separator: ", ")), ("Lethe", letheVersion),
        ]
        let rows = rules.map { rule in
            let retained = rule.retained == 0 ? "0" : "\(rule.retained): \(rule.retainReason ?? "")" + (rule.retainedUntil.map { " (until \(iso.string(from: $0)))" } ?? "")
            return "<tr><td>\(e(rule.policy)) #\(rule.ruleIndex + 1)</td><td>\(e(rule.namespace))</td><td>\(e(rule.action.rawValue))</td><td class=n>\(rule.matched)</td><td class=n>\(rule.deleted)</td><td class=n>\(rule.modified)</td><td>\(e(retained))</td><td class=\"v \(e(rule.verification.rawValue))\">\(e(rule.verification.rawValue))</td></tr>"
        }.joined(separator: "\n")
        return """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Certificate of erasure \(e(requestId))</title>
        <style>
        body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:58rem;margin:2rem auto;padding:0 1rem;color:#111}
        h1{font-size:1.6rem;border-bottom:2px solid #111;padding-bottom:.3rem}
        table{border-collapse:collapse;width:100%;margin:1rem 0}th,td{border:1px solid #bbb;padding:.35rem .5rem;text-align:left;vertical-align:top}
        th{background:#eee}.n{text-align:right}.v.passed{color:#05612f}.v.failed{color:#a11;font-weight:bold}
        .facts th{width:14rem}.statement{background:#eef5fb;border-left:4px solid #06c;padding:.6rem .8rem}
        @media print{body{margin:0}tr{page-break-inside:avoid}}
        </style></head><body>
        <h1>Certificate of erasure</h1>
        <table class=facts>\(facts.map { "<tr><th>\(e($0.0))</th><td>\(e($0.1))</td></tr>" }.joined())</table>
        <table><thead><tr><th>Rule</th><th>Collection</th><th>Action</th><th>Matched</th><th>Deleted</th><th>Anonymized / pulled</th><th>Retained</th><th>Verification</th></tr></thead>
        <tbody>
        \(rows)
        </tbody></table>
        \(note.map { "<p>Note: \(e($0))</p>" } ?? "")
        <p class=statement>\(e(Self.statement(outcome)))</p>
        </body></html>

        """
    }

    static func statement(_ outcome: Outcome) -> String {
        outcome == .completed
            ? "Every rule of the policies listed was carried out for this user and verified afterwards: no document that the policies say must be deleted, anonymized or pulled still matches. Retained documents are kept for the reason stated. This certificate holds no personal data."
            : "This request did not complete: see the verification column and the note. This certificate holds no personal data."
    }
}
