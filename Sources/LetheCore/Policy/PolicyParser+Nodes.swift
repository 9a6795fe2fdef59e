import Foundation
import Yams

/// Reading YAML nodes of an expected shape, and saying precisely what is wrong when
/// they have another.
extension PolicyParser {
    // MARK: - Diagnostics

    mutating func diagnose(
        _ severity: PolicyDiagnostic.Severity, at position: (line: Int, column: Int), _ keyPath: String,
        _ message: String, expected: String?, hint: String?
    ) {
        diagnostics.append(PolicyDiagnostic(
            severity: severity, file: file, line: position.line, column: position.column, keyPath: keyPath,
            message: message, expected: expected, hint: hint))
    }

    mutating func error(_ node: Node, _ keyPath: String, _ message: String, expected: String?, hint: String?) {
        diagnose(.error, at: position(node), keyPath, message, expected: expected, hint: hint)
    }

    mutating func warning(_ node: Node, _ keyPath: String, _ message: String, expected: String?, hint: String?) {
        diagnose(.warning, at: position(node), keyPath, message, expected: expected, hint: hint)
    }

    /// "wrong type: found a list; expected a collection name (hint: write it like `collection: Item`)".
    mutating func wrongType(_ node: Node, _ keyPath: String, key: String) {
        let spec = PolicyKey.named(key)
        error(
            node, keyPath, isEmptyValue(node) ? "no value" : "wrong type: found \(describe(node))",
            expected: spec.expected, hint: "write it like `\(spec.example)`")
    }

    func position(_ node: Node) -> (line: Int, column: Int) {
        guard let mark = node.mark else { return (1, 1) }
        return (mark.line, mark.column)
    }

    func location(_ node: Node) -> SourceLocation {
        let (line, column) = position(node)
        return SourceLocation(file: file, line: line, column: column)
    }

    /// `base.key`, or `base["key"]` when the key holds a dot, a space or a bracket.
    func join(_ base: String, _ key: String) -> String {
        let plain = !key.isEmpty && !key.contains { $0 == "." || $0 == "[" || $0 == "]" || $0.isWhitespace || $0 == "\"" }
        if plain { return base.isEmpty ? key : base + "." + key }
        let escaped = key.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return base + "[\"" + escaped + "\"]"
    }

    /// "a mapping", "a list", "a string", "a number", "a boolean", "null".
    func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            switch YAMLScalar(scalar) {
            case .null: return scalar.string.isEmpty ? "no value" : "null"
            case .bool: return "a boolean"
            case .int, .double: return "a number"
            case .string, nil: return "a string"
            }
        }
    }

    func isEmptyValue(_ node: Node) -> Bool {
        if case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any,
            scalar.string.isEmpty
        {
            return true
        }
        return false
    }

    // MARK: - Mappings with known keys

    struct Entry {
        let key: String
        let keyNode: Node
        let value: Node
    }

    struct Fields {
        let node: Node
        let path: String
        let allowed: [String]
        let entries: [Entry]
        /// Keys suggested for misspelled ones; not reported again as missing.
        let suggested: Set<String>

        subscript(key: String) -> Entry? { entries.first { $0.key == key } }
    }

    /// The entries of a mapping whose keys must be among `allowed`. Unknown keys are
    /// errors, with a did-you-mean or a note on where the key belongs.
    mutating func fields(
        _ node: Node, _ path: String, allowed: [String], misplaced: [String: String] = [:]
    ) -> Fields? {
        guard case .mapping(let mapping) = node else {
            wrongType(node, path, key: lastKey(path))
            return nil
        }
        var entries: [Entry] = []
        var suggested: Set<String> = []
        for (keyNode, value) in mapping {
            guard let key = keyText(keyNode, path) else { continue }
            if allowed.contains(key) {
                entries.append(Entry(key: key, keyNode: keyNode, value: value))
                continue
            }
            let suggestion = DidYouMean.suggestion(for: key, in: allowed)
            if let suggestion { suggested.insert(suggestion) }
            let mergeHint = key == "<<" ? "YAML merge keys (<<) are not supported; write the keys out" : nil
            error(
                keyNode, join(path, key), "unknown key '\(key)'",
                expected: "one of " + allowed.joined(separator: ", "),
                hint: suggestion.map { "did you mean '\($0)'?" } ?? misplaced[key] ?? mergeHint
                    ?? "remove it; every key is described in docs/policies.md")
        }
        return Fields(node: node, path: path, allowed: allowed, entries: entries, suggested: suggested)
    }

    /// The text of a mapping key, which must be a scalar.
    mutating func keyText(_ keyNode: Node, _ path: String) -> String? {
        if case .scalar(let scalar) = keyNode { return scalar.string }
        error(
            keyNode, path, "a key must be text, found \(describe(keyNode))", expected: "a plain key such as `action:`",
            hint: "remove the `?` or the brackets around the key")
        return nil
    }

    /// The entry for `key`, or an error at the mapping saying it is missing.
    mutating func required(_ fields: Fields, _ key: String) -> Entry? {
        if let entry = fields[key] { return entry }
        // "unknown key 'colection' (did you mean 'collection'?)" already says it.
        if fields.suggested.contains(key) { return nil }
        let spec = PolicyKey.named(key)
        error(
            fields.node, fields.path, "missing required key '\(key)'", expected: spec.expected,
            hint: "add `\(spec.example)`")
        return nil
    }

    // MARK: - Scalars of one type

    /// Any scalar except null, as written. Numbers and booleans are taken as their
    /// text (`name: 2024` is the name "2024").
    mutating func string(_ node: Node, _ path: String) -> String? {
        if case .scalar(let scalar) = node, let kind = YAMLScalar(scalar), kind != .null {
            return scalar.string
        }
        wrongType(node, path, key: lastKey(path))
        return nil
    }

    mutating func integer(_ node: Node, _ path: String) -> Int? {
        if case .scalar(let scalar) = node, case .int(let value) = YAMLScalar(scalar), let int = Int(exactly: value) {
            return int
        }
        let spec = PolicyKey.named(lastKey(path))
        var hint = "write it like `\(spec.example)`"
        if case .scalar(let scalar) = node, scalar.style == .singleQuoted || scalar.style == .doubleQuoted,
            Int(scalar.string) != nil
        {
            hint = "remove the quotes: quoted, it is text"
        }
        error(
            node, path, isEmptyValue(node) ? "no value" : "wrong type: found \(describe(node))",
            expected: spec.expected, hint: hint)
        return nil
    }

    mutating func boolean(_ node: Node, _ path: String) -> Bool? {
        if case .scalar(let scalar) = node, case .bool(let value) = YAMLScalar(scalar) { return value }
        let spec = PolicyKey.named(lastKey(path))
        error(
            node, path, isEmptyValue(node) ? "no value" : "wrong type: found \(describe(node))",
            expected: spec.expected, hint: "write true or false, without quotes")
        return nil
    }

    mutating func duration(_ node: Node, _ path: String) -> PolicyDuration? {
        guard case .scalar(let scalar) = node, YAMLScalar(scalar) != .null else {
            wrongType(node, path, key: lastKey(path))
            return nil
        }
        let text = scalar.string
        switch PolicyDuration.parse(text) {
        case .success(let duration):
            return duration
        case .failure(let failure):
            let hint: String =
                switch failure {
                case .zero:
                    "a duration must be at least 1"
                case .tooLarge:
                    "at most \(PolicyDuration.maximumCount) of a unit; use a larger unit, e.g. 10y"
                case .missingUnit:
                    "add a unit: \(text)d for days, \(text)w for weeks, \(text)mo for months, \(text)y for years"
                case .unknownUnit(let unit):
                    Self.durationUnitHint(unit, count: text.prefix { $0.isNumber })
                case .notANumber:
                    text.hasPrefix("-")
                        ? "durations count forward and must be positive"
                        : "start with a whole number, e.g. 30d"
                }
            error(
                node, path, "invalid duration '\(text)'", expected: PolicyKey.durationExpected, hint: hint)
            return nil
        }
    }

    private static func durationUnitHint(_ unit: String, count: Substring) -> String {
        let trimmed = unit.trimmingCharacters(in: .whitespaces).lowercased()
        let words: [(String, String)] = [
            ("day", "d"), ("days", "d"), ("week", "w"), ("weeks", "w"), ("month", "mo"), ("months", "mo"),
            ("mon", "mo"), ("mos", "mo"), ("year", "y"), ("years", "y"), ("yr", "y"), ("yrs", "y"),
        ]
        if trimmed == "m" {
            return "'m' could mean minutes or months; write \(count)mo for months"
        }
        if let (_, short) = words.first(where: { $0.0 == trimmed }) {
            return "write \(count)\(short)"
        }
        if ["h", "hr", "hrs", "hour", "hours", "min", "mins", "minute", "minutes", "s", "sec", "secs", "seconds"]
            .contains(trimmed)
        {
            return "the smallest unit is a day (d); deadlines and retention periods are counted in days"
        }
        if unit.hasPrefix(" ") { return "write the number and the unit together, without a space" }
        return "units are d (days), w (weeks), mo (months) and y (years)"
    }

    mutating func list(_ node: Node, _ path: String) -> [Node]? {
        if case .sequence(let sequence) = node { return Array(sequence) }
        let spec = PolicyKey.named(lastKey(path))
        error(
            node, path, isEmptyValue(node) ? "no value" : "wrong type: found \(describe(node))",
            expected: spec.expected, hint: "start each item on its own line with '- ', or write `\(spec.example)`")
        return nil
    }

    func lastKey(_ path: String) -> String {
        let key = path.split(separator: ".").last.map(String.init) ?? path
        return key.split(separator: "[").first.map(String.init) ?? key
    }

    // MARK: - Field paths

    enum PathPurpose {
        /// `match`: where the user's id is.
        case match
        /// `set`, `unset`, `hash`, `pseudonymize`: fields that change; never `_id`.
        case change
        /// A date field (`until.field`, `retention[].field`).
        case date
        /// A field named in `where`.
        case filter
        /// `users.field`, `users.identities`: where a users document holds ids.
        case user
        /// A lookup's `field`: the values it reads (`_id` included).
        case value
    }

    /// One field path or a list of them, each checked; nil when any is invalid.
    mutating func pathList(_ node: Node, _ path: String, purpose: PathPurpose) -> [String]? {
        pathItems(node, path, purpose: purpose).map { $0.map(\.path) }
    }

    mutating func pathItems(_ node: Node, _ path: String, purpose: PathPurpose) -> [(path: String, node: Node)]? {
        let items: [(Node, String)]
        switch node {
        case .scalar:
            items = [(node, path)]
        case .sequence(let sequence):
            items = sequence.enumerated().map { ($1, "\(path)[\($0)]") }
            if items.isEmpty, purpose == .match {
                error(
                    node, path, "empty match", expected: "a field path such as owner_id or author.id",
                    hint: "a rule must say which field holds the user's id")
                return nil
            }
        default:
            wrongType(node, path, key: lastKey(path))
            return nil
        }
        var out: [(path: String, node: Node)] = []
        var seen = Set<String>()
        var valid = true
        for (item, itemPath) in items {
            guard let text = pathText(item, itemPath) else {
                valid = false
                continue
            }
            if checkFieldPath(text, item, itemPath, purpose: purpose) {
                if !seen.insert(text).inserted, purpose == .match {
                    warning(
                        item, itemPath, "'\(text)' is listed twice", expected: "each field path once",
                        hint: "remove the second one")
                } else {
                    out.append((text, item))
                }
            } else {
                valid = false
            }
        }
        return valid ? out : nil
    }

    mutating func singlePath(_ node: Node, _ path: String, purpose: PathPurpose) -> String? {
        guard case .scalar = node else {
            wrongType(node, path, key: lastKey(path))
            return nil
        }
        guard let text = pathText(node, path) else { return nil }
        return checkFieldPath(text, node, path, purpose: purpose) ? text : nil
    }

    /// A field path as written: text only. A number, a boolean or null is refused, not
    /// taken as its digits (`match: 5` names no field anyone meant; `"5"` does).
    mutating func pathText(_ item: Node, _ itemPath: String) -> String? {
        guard case .scalar(let scalar) = item, let kind = YAMLScalar(scalar) else {
            error(
                item, itemPath, "wrong type: found \(describe(item))", expected: "a field path such as author.id",
                hint: "write field paths as text, e.g. `[author.email, author.ip]`")
            return nil
        }
        switch kind {
        case .string: return scalar.string
        case .null where scalar.string.isEmpty: return ""  // "empty match", said by checkFieldPath
        default:
            error(
                item, itemPath, "wrong type: found \(describe(item))", expected: "a field path such as owner_id or author.id, as text",
                hint: "a field path is text; if the field's name really is `\(scalar.string)`, quote it: \"\(scalar.string)\"")
            return nil
        }
    }

    /// Whether `text` is a field path Lethe can safely use for `purpose`; reports why not.
    @discardableResult
    mutating func checkFieldPath(_ text: String, _ node: Node, _ path: String, purpose: PathPurpose) -> Bool {
        let expected = "a field path such as owner_id or author.id"
        if text.isEmpty {
            let hint =
                switch purpose {
                case .match: "a rule must say which field holds the user's id; an empty path selects nothing it could prove is the user's"
                case .change: "name the field to change"
                case .date: "name the date field, e.g. created_at"
                case .filter: "name the field the condition is about"
                case .user: "name the field of a users document that holds the id, e.g. user_id"
                case .value: "name the field whose values the lookup reads, e.g. accounts or _id"
                }
            error(node, path, purpose == .match ? "empty match" : "empty field path", expected: expected, hint: hint)
            return false
        }
        if text.hasPrefix("$") {
            error(
                node, path, "field path '\(text)' starts with '$'", expected: expected,
                hint: "'$' starts operators and variables, not field names; write the field name without it")
            return false
        }
        let segments = text.split(separator: ".", omittingEmptySubsequences: false)
        if segments.contains(where: \.isEmpty) {
            error(
                node, path, "field path '\(text)' has an empty segment", expected: expected,
                hint: "remove the extra, leading or trailing dot")
            return false
        }
        if let operatorSegment = segments.first(where: { $0.hasPrefix("$") }) {
            error(
                node, path, "field path '\(text)' contains the positional operator '\(operatorSegment)'",
                expected: expected,
                hint: "Lethe finds matching array elements itself; name the path without positional operators, "
                    + "e.g. members.id")
            return false
        }
        if text.contains("\0") || text.contains(where: { $0.isNewline }) {
            error(
                node, path, "field path contains a control character", expected: expected,
                hint: "write the path on one line, as MongoDB shows it")
            return false
        }
        if purpose == .change, segments[0] == "_id" {
            error(
                node, path, "cannot modify '\(text)'", expected: "a field other than _id",
                hint: "MongoDB never changes _id; to remove the document, use action: delete")
            return false
        }
        return true
    }

    // MARK: - YAML syntax errors

    // A table (one case per kind of YAML error, each with its own message): one of the
    // parser's tables that run past the project's usual bound of about 80 lines a
    // function, since splitting a table hides its cases from each other.
    mutating func reportYAMLError(_ error: Error, in yaml: String) {
        let hint = "check the indentation and quoting here; quote values that contain ': ' or ' #', "
            + "or start with one of { [ * & ! % @ `"
        guard let yamlError = error as? YamlError else {
            diagnose(.error, at: (1, 1), "", "invalid YAML: \(error)", expected: nil, hint: hint)
            return
        }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            var fullHint = hint
            if let context {
                fullHint = "\(context.text) at line \(context.mark.line), column \(context.mark.column); " + hint
            }
            let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
            if mark.line >= 1, mark.line <= lines.count, lines[mark.line - 1].prefix(while: { $0 == " " || $0 == "\t" }).contains("\t") {
                fullHint = "indent with spaces: YAML does not allow tabs in indentation"
            }
            if problem.contains("found another document") {
                diagnose(
                    .error, at: (mark.line, mark.column), "", "more than one YAML document in the file",
                    expected: "one policy per file", hint: "move the policy after `---` to a file of its own")
                return
            }
            diagnose(.error, at: (mark.line, mark.column), "", "invalid YAML: \(problem)", expected: nil, hint: fullHint)
        case .reader(let problem, let offset, _, _):
            let (line, column) = Self.lineAndColumn(ofCharacterOffset: offset ?? 0, in: yaml)
            diagnose(
                .error, at: (line, column), "", "unreadable text: \(problem)", expected: "UTF-8 text",
                hint: "save the file as UTF-8 without control characters")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let key = duplicates.first ?? "?"
            let first = context.mark
            if let second = Self.secondOccurrence(of: key, after: first, in: yaml) {
                diagnose(
                    .error, at: second, "", "duplicate key '\(key)'", expected: "each key once in a mapping",
                    hint: "'\(key)' is already set at line \(first.line), column \(first.column); remove one of them")
            } else {
                diagnose(
                    .error, at: (first.line, first.column), "", "duplicate key '\(key)'",
                    expected: "each key once in a mapping", hint: "'\(key)' is set more than once here; remove one")
            }
        default:
            diagnose(.error, at: (1, 1), "", "invalid YAML: \(yamlError)", expected: nil, hint: hint)
        }
    }

    static func lineAndColumn(ofCharacterOffset offset: Int, in text: String) -> (Int, Int) {
        var line = 1
        var column = 1
        for (index, character) in text.enumerated() {
            if index == offset { break }
            if character == "\n" {
                line += 1
                column = 1
            } else {
                column += character.unicodeScalars.count
            }
        }
        return (line, column)
    }

    /// Where `key` is written again after its first place: later on the same line
    /// (flow style), or on a later line at the same column (block style).
    static func secondOccurrence(of key: String, after first: Mark, in yaml: String) -> (line: Int, column: Int)? {
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0.unicodeScalars) }
        let needle = Array(key.unicodeScalars)
        func isKey(at index: Int, in line: [Unicode.Scalar]) -> Bool {
            guard index + needle.count <= line.count, Array(line[index..<index + needle.count]) == needle else {
                return false
            }
            if index > 0, !" \t{,-".unicodeScalars.contains(line[index - 1]) { return false }
            var rest = index + needle.count
            while rest < line.count, line[rest] == " " { rest += 1 }
            return rest < line.count && line[rest] == ":"
        }
        guard first.line >= 1, first.line <= lines.count else { return nil }
        let firstLine = lines[first.line - 1]
        var index = first.column - 1 + needle.count
        while index < firstLine.count {
            if isKey(at: index, in: firstLine) { return (first.line, index + 1) }
            index += 1
        }
        for lineIndex in first.line..<lines.count where isKey(at: first.column - 1, in: lines[lineIndex]) {
            return (lineIndex + 1, first.column)
        }
        return nil
    }
}
