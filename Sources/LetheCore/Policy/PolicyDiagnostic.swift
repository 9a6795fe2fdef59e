/// A problem found in a policy file, said so that a person can fix it: where, in
/// which key, what is wrong, what was expected, and what to do.
///
/// `description` renders it on one line:
///
///     policies/todo.yaml:14:13: error: rules[1].action: unknown action 'delet'; expected one of delete, anonymize, pull, retain (hint: did you mean 'delete'?)
///
/// that is `file:line:column: severity: keyPath: message; expected <expected> (hint: <hint>)`,
/// where `keyPath: `, `; expected …` and ` (hint: …)` are left out when empty, and
/// `:line:column` is left out for problems with a whole directory (line 0).
public struct PolicyDiagnostic: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable {
        /// The policy is refused.
        case error
        /// The policy loads, but probably does not do what its author meant.
        case warning
    }

    public var severity: Severity
    /// The file (or directory) as the loader was given it.
    public var file: String
    /// 1-based; 0 when the problem is with a directory, not a place in a file.
    public var line: Int
    /// 1-based, counted in Unicode scalars; 0 with `line`.
    public var column: Int
    /// Where in the policy, like `rules[2].action` (list indices count from 0);
    /// empty for problems with the file as a whole.
    public var keyPath: String
    public var message: String
    /// What would have been accepted, e.g. "one of delete, anonymize, pull, retain".
    public var expected: String?
    /// What to do about it, e.g. "did you mean 'delete'?".
    public var hint: String?

    public init(
        severity: Severity, file: String, line: Int, column: Int, keyPath: String,
        message: String, expected: String? = nil, hint: String? = nil
    ) {
        self.severity = severity
        self.file = file
        self.line = line
        self.column = column
        self.keyPath = keyPath
        self.message = message
        self.expected = expected
        self.hint = hint
    }

    public var isError: Bool { severity == .error }

    public var location: SourceLocation { SourceLocation(file: file, line: line, column: column) }

    /// The rule a key path is in, as people count (README, "Rule numbers"): `rules[4]`
    /// is `rule #5`, `retention[0]` is `retention #1`; nil outside the rule lists.
    public var ruleNumber: String? {
        for (list, name) in [("rules[", "rule"), ("retention[", "retention")] where keyPath.hasPrefix(list) {
            let digits = keyPath.dropFirst(list.count).prefix { $0.isNumber }
            if let index = Int(digits) { return "\(name) #\(index + 1)" }
        }
        return nil
    }

    /// `description` with the rule's number beside its key path, as people read it:
    /// `p.yaml:7:13: error: rules[0].action (rule #1): unknown action …`.
    public var numberedDescription: String {
        guard let ruleNumber, !keyPath.isEmpty else { return description }
        return description.replacingOccurrences(of: ": \(keyPath): ", with: ": \(keyPath) (\(ruleNumber)): ", options: [], range: nil)
    }

    public var description: String {
        var out = file
        if line > 0 { out += ":\(line):\(column)" }
        out += ": \(severity.rawValue): "
        if !keyPath.isEmpty { out += "\(keyPath): " }
        out += message
        if let expected, !expected.isEmpty { out += "; expected \(expected)" }
        if let hint, !hint.isEmpty { out += " (hint: \(hint))" }
        return out
    }
}
