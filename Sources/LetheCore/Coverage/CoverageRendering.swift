import Foundation

/// The coverage report for people (text), for tools (JSON) and as a draft policy for
/// its uncovered paths (YAML, to review; Lethe never applies it). Counts and kinds only.
extension CoverageReport {
    public var text: String {
        var lines = ["coverage: \(collections.count) collection(s) in \(databases.joined(separator: ", ")), "
                     + "at most \(sampleSize) document(s) sampled from each"]
        if !usersKnown {
            lines.append("note: no policy has `users`, so no value is counted as a user id (add users:, docs/policies.md)")
        }
        for collection in collections {
            var head = "\(collection.namespace): \(collection.sampled) sampled, \(collection.pathsSeen) path(s)"
            if collection.pathsOmitted > 0 { head += " (\(collection.pathsOmitted) past the limit not examined)" }
            if !collection.hasRule { head += ", no rule" }
            lines.append(head)
            if collection.paths.isEmpty { lines.append("  nothing personal-looking found") }
            for path in collection.paths {
                let kinds = path.kinds.map { "\($0) \(path.count(of: $0))" }.joined(separator: ", ")
                let status = path.covered ? "covered  " : "UNCOVERED"
                lines.append("  \(status) \(path.path): \(kinds) of \(path.values) value(s)"
                             + (path.covered ? " (\(path.coveredBy.joined(separator: "; ")))" : ""))
            }
        }
        let open = uncovered
        let inCollections = Set(open.map(\.collection.namespace)).count
        lines.append(open.isEmpty
            ? "every personal-looking path found is covered by a rule"
            : "\(open.count) uncovered path(s) in \(inCollections) collection(s); `lethe coverage --format yaml` drafts rules for them, to review")
        return lines.joined(separator: "\n") + "\n"
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    /// A draft policy per database for the uncovered paths: a collection without a rule
    /// gets a delete rule matched on its paths that hold known user ids; a collection
    /// with rules gets an anonymize rule, matched on the fields its rules match, that
    /// unsets the uncovered paths (and pseudonymizes uncovered ids). Everything in it is to be checked by a person.
    public var draftPolicyYAML: String {
        let open = uncovered
        var out = [
            "# Draft from `lethe coverage` (\(ISO8601DateFormatter().string(from: generatedAt))): rules for the field",
            "# paths whose sampled values looked personal and that no rule covers.",
            "# TO REVIEW: Lethe never applies this by itself. Check each rule (delete, anonymize",
            "# or retain?), then merge it into your policy and run `lethe validate`.",
        ]
        if open.isEmpty {
            out.append("# Nothing uncovered was found in the sample.")
            return out.joined(separator: "\n") + "\n"
        }
        for database in databases {
            let collections = collections.filter { $0.database == database && !$0.uncovered.isEmpty }
            guard !collections.isEmpty else { continue }
            out += ["---", "version: 1", "name: \(Self.draftName(database))", "database: \(Self.yamlScalar(database))", "rules:"]
            for collection in collections {
                let uncovered = collection.uncovered
                let summary = uncovered.map { "\($0.path) (\($0.kinds.joined(separator: ", ")))" }.joined(separator: "; ")
                out.append("  # \(collection.collection): \(summary)")
                let idPaths = uncovered.filter { $0.userIds > 0 }.sorted { $0.userIds > $1.userIds }.map(\.path)
                if !collection.matchedOn.isEmpty {
                    let existing = collection.matchedOn
                    let others = uncovered.map(\.path).filter { !idPaths.contains($0) }
                    out += ["  - collection: \(Self.yamlScalar(collection.collection))",
                            "    match: \(Self.yamlList(existing))",
                            "    action: anonymize"]
                    if !others.isEmpty { out.append("    unset: \(Self.yamlList(others))") }
                    if !idPaths.isEmpty { out.append("    pseudonymize: \(Self.yamlList(idPaths))   # ids of known users: or match on them") }
                } else if !idPaths.isEmpty {
                    out += ["  - collection: \(Self.yamlScalar(collection.collection))",
                            "    match: \(Self.yamlList(idPaths))",
                            "    action: delete   # or anonymize, or retain with a reason: decide"]
                } else {
                    out += ["  # no sampled path of \(collection.collection) holds ids of known users: find how its",
                            "  # documents link to their user before writing a rule, e.g.",
                            "  # - collection: \(Self.yamlScalar(collection.collection))",
                            "  #   match: <field holding the user id>",
                            "  #   action: anonymize",
                            "  #   unset: \(Self.yamlList(uncovered.map(\.path)))"]
                }
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    static func draftName(_ database: String) -> String {
        let cleaned = String(database.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" }.prefix(40))
        return "coverage-draft-" + cleaned
    }

    static func yamlScalar(_ text: String) -> String {
        let plain = text.first.map { $0.isLetter || $0 == "_" } == true
            && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }
        if plain { return text }
        let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return "\"\(escaped)\""
    }

    static func yamlList(_ items: [String]) -> String { "[" + items.map(yamlScalar).joined(separator: ", ") + "]" }
}

extension CoverageReport.Path {
    /// The count of one kind as `kinds` names it.
    func count(of kind: String) -> Int {
        switch kind {
        case "user-id": userIds
        case "email": emails
        case "phone": phones
        default: ipAddresses
        }
    }
}
