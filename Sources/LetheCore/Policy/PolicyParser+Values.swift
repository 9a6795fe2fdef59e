import BSON
import Foundation
import Yams

/// `where` filters and the values of `set`: YAML turned into typed BSON, with
/// everything that could run code on the server refused.
extension PolicyParser {
    /// Operators that run JavaScript (or, for `$expr`, can carry `$function`).
    static let refusedOperators = ["$where", "$function", "$accumulator", "$expr"]
    static let logicalOperators = ["$and", "$or", "$nor"]
    static let fieldOperators = [
        "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$type", "$regex", "$options", "$not",
        "$elemMatch", "$all", "$size", "$mod",
    ]
    /// Extended-JSON wrappers accepted as values.
    static let valueWrappers = ["$oid", "$date", "$uuid"]
    static let filterExpected = "field conditions with query operators such as $eq, $in, $exists, $and, $or"

    // MARK: - where

    /// A `where` mapping as a BSON filter; nil when anything in it is refused.
    mutating func parseWhere(_ node: Node, _ path: String) -> BSONDocument? {
        guard case .mapping(let mapping) = node else {
            error(
                node, path, isEmptyValue(node) ? "no value" : "wrong type: found \(describe(node))",
                expected: "a mapping of field conditions",
                hint: "write it like `where: { shared: true }`; leave where out to take every matched document")
            return nil
        }
        if mapping.count == 0 {
            warning(
                node, path, "empty where", expected: "at least one field condition",
                hint: "an empty where adds no condition; remove it, or write the condition")
        }
        return parseFilter(node, path)
    }

    /// A filter document: field paths with values or operator expressions, and the
    /// logical operators.
    private mutating func parseFilter(_ node: Node, _ path: String) -> BSONDocument? {
        guard case .mapping(let mapping) = node else {
            error(
                node, path, "wrong type: found \(describe(node))", expected: "a mapping of field conditions",
                hint: "e.g. `{ status: archived }`")
            return nil
        }
        let errorsBefore = errorCount
        var filter = BSONDocument()
        for (keyNode, value) in mapping {
            guard let key = keyText(keyNode, path) else { continue }
            let keyPath = join(path, key)
            if key.hasPrefix("$") {
                if refuseIfUnsafe(key, keyNode, keyPath) { continue }
                if Self.logicalOperators.contains(key) {
                    if let clauses = parseClauses(value, keyPath, op: key) { filter.append(key, .array(clauses)) }
                } else if Self.fieldOperators.contains(key) || Self.valueWrappers.contains(key) {
                    error(
                        keyNode, keyPath, "'\(key)' needs a field", expected: "a field name, with the operator inside",
                        hint: "write `field: { \(key): value }`")
                } else {
                    error(
                        keyNode, keyPath, "unknown query operator '\(key)'",
                        expected: "a field name, or one of " + Self.logicalOperators.joined(separator: ", "),
                        hint: DidYouMean.hint(for: key, in: Self.logicalOperators + Self.fieldOperators)
                            ?? "Lethe accepts the query operators listed in docs/policies.md")
                }
                continue
            }
            guard checkFieldPath(key, keyNode, keyPath, purpose: .filter) else {
                _ = scanForRefused(value, keyPath)
                continue
            }
            if let condition = parseCondition(value, keyPath) { filter.append(key, condition) }
        }
        return errorCount == errorsBefore ? filter : nil
    }

    private mutating func parseClauses(_ node: Node, _ path: String, op: String) -> [BSON]? {
        guard case .sequence(let sequence) = node, sequence.count > 0 else {
            let message = isEmptyValue(node) || (node.sequence?.count == 0) ? "no conditions" : "wrong type: found \(describe(node))"
            error(
                node, path, message, expected: "a non-empty list of mappings",
                hint: "write `\(op): [ { status: archived }, { shared: false } ]`")
            return nil
        }
        var clauses: [BSON] = []
        var valid = true
        for (index, item) in sequence.enumerated() {
            if let clause = parseFilter(item, "\(path)[\(index)]") {
                clauses.append(.document(clause))
            } else {
                valid = false
            }
        }
        return valid ? clauses : nil
    }

    /// The value of a field in a filter: an operator expression (`{ $gt: 3 }`) or a
    /// value compared for equality.
    private mutating func parseCondition(_ node: Node, _ path: String) -> BSON? {
        guard case .mapping(let mapping) = node else { return convertValue(node, path) }
        let keys = mapping.keys.compactMap { $0.scalar?.string }
        let operatorCount = keys.count { $0.hasPrefix("$") }
        if operatorCount == 0 || (keys.count == 1 && Self.valueWrappers.contains(keys[0])) {
            return convertValue(node, path)
        }
        if operatorCount < keys.count {
            _ = scanForRefused(node, path)
            error(
                node, path, "mixes operators and field names", expected: "only operators, e.g. { $gte: 1, $lt: 5 }",
                hint: "to compare a field inside this one, put it in the path, e.g. `\(lastKey(path)).name: value`")
            return nil
        }
        return parseOperators(node, path).map(BSON.document)
    }

    /// `{ $op: operand, ... }` on one field.
    // A table (one case per query operator a `where` may use): one of the parser's
    // tables that run past the usual bound of about 80 lines a function.
    private mutating func parseOperators(_ node: Node, _ path: String) -> BSONDocument? {
        guard case .mapping(let mapping) = node else {
            error(
                node, path, "wrong type: found \(describe(node))", expected: "a mapping of operators",
                hint: "e.g. `{ $gte: 1 }`")
            return nil
        }
        let errorsBefore = errorCount
        var expression = BSONDocument()
        for (keyNode, operand) in mapping {
            guard let op = keyText(keyNode, path) else { continue }
            let opPath = join(path, op)
            if refuseIfUnsafe(op, keyNode, opPath) { continue }
            guard op.hasPrefix("$") else {
                error(
                    keyNode, opPath, "mixes operators and field names", expected: "only operators, e.g. { $gte: 1 }",
                    hint: "put the field in the path instead")
                continue
            }
            switch op {
            case "$in", "$nin", "$all":
                guard case .sequence = operand else {
                    error(
                        operand, opPath, "wrong type: found \(describe(operand))", expected: "a list of values",
                        hint: "write `\(op): [a, b]`")
                    continue
                }
                if let value = convertValue(operand, opPath) { expression.append(op, value) }
            case "$exists":
                if let flag = boolean(operand, opPath) { expression.append(op, .bool(flag)) }
            case "$size":
                if case .scalar(let scalar) = operand, case .int(let size) = YAMLScalar(scalar), size >= 0 {
                    expression.append(op, size <= Int64(Int32.max) ? .int32(Int32(size)) : .int64(size))
                } else {
                    error(
                        operand, opPath, "wrong type: found \(describe(operand))",
                        expected: "a whole number of at least 0", hint: "write `$size: 0`")
                }
            case "$regex", "$options":
                guard case .scalar(let scalar) = operand, YAMLScalar(scalar) != .null else {
                    error(
                        operand, opPath, "wrong type: found \(describe(operand))", expected: "a string",
                        hint: op == "$regex" ? "write `$regex: \"^draft-\"`" : "write `$options: i`")
                    continue
                }
                expression.append(op, .string(scalar.string))
            case "$mod":
                guard case .sequence(let pair) = operand, pair.count == 2,
                    let value = convertValue(operand, opPath),
                    value.arrayValue?.allSatisfy({ $0.int64Value != nil }) == true
                else {
                    error(
                        operand, opPath, "wrong type: found \(describe(operand))",
                        expected: "a list of two whole numbers [divisor, remainder]", hint: "write `$mod: [4, 0]`")
                    continue
                }
                expression.append(op, value)
            case "$not":
                if let inner = parseOperators(operand, opPath) { expression.append(op, .document(inner)) }
            case "$elemMatch":
                guard case .mapping(let inner) = operand else {
                    error(
                        operand, opPath, "wrong type: found \(describe(operand))", expected: "a mapping of conditions",
                        hint: "write `$elemMatch: { role: owner }`")
                    continue
                }
                let onlyOperators = inner.keys.allSatisfy { $0.scalar?.string.hasPrefix("$") == true }
                    && !inner.keys.contains { Self.logicalOperators.contains($0.scalar?.string ?? "") }
                let parsed = onlyOperators && inner.count > 0 ? parseOperators(operand, opPath) : parseFilter(operand, opPath)
                if let parsed { expression.append(op, .document(parsed)) }
            case "$type":
                if let value = convertValue(operand, opPath) { expression.append(op, value) }
            default:
                if Self.fieldOperators.contains(op) {
                    if let value = convertValue(operand, opPath) { expression.append(op, value) }
                } else if Self.logicalOperators.contains(op) {
                    error(
                        keyNode, opPath, "'\(op)' cannot be used on a field",
                        expected: "one of " + Self.fieldOperators.joined(separator: ", "),
                        hint: "put \(op) at the top of where, with a list of conditions: "
                            + "`\(op): [ { a: 1 }, { b: 2 } ]`")
                } else {
                    error(
                        keyNode, opPath, "unknown query operator '\(op)'",
                        expected: "one of " + Self.fieldOperators.joined(separator: ", "),
                        hint: DidYouMean.hint(for: op, in: Self.fieldOperators)
                            ?? "Lethe accepts the query operators listed in docs/policies.md")
                }
            }
        }
        return errorCount == errorsBefore ? expression : nil
    }

    /// Reports `key` if it is one of the refused operators.
    private mutating func refuseIfUnsafe(_ key: String, _ keyNode: Node, _ path: String) -> Bool {
        guard Self.refusedOperators.contains(key) else { return false }
        let hint =
            key == "$expr"
            ? "$expr is refused entirely, because it can carry JavaScript through $function; "
                + "write the condition with field conditions and query operators"
            : "\(key) runs JavaScript on the database server, which a policy must never do; "
                + "write the condition with query operators"
        error(keyNode, path, "'\(key)' is refused as unsafe", expected: Self.filterExpected, hint: hint)
        return true
    }

    /// Reports every refused operator anywhere under `node`; true when one was found.
    private mutating func scanForRefused(_ node: Node, _ path: String) -> Bool {
        var found = false
        switch node {
        case .mapping(let mapping):
            for (keyNode, value) in mapping {
                let key = keyNode.scalar?.string ?? ""
                if refuseIfUnsafe(key, keyNode, join(path, key)) {
                    found = true
                } else if scanForRefused(value, join(path, key)) {
                    found = true
                }
            }
        case .sequence(let sequence):
            for (index, item) in sequence.enumerated() where scanForRefused(item, "\(path)[\(index)]") {
                found = true
            }
        default:
            break
        }
        return found
    }

    // MARK: - Values

    /// A YAML value as typed BSON: null, booleans, numbers (int32 when they fit, else
    /// int64; double with a point or exponent), strings (anything quoted), documents,
    /// arrays, and `{ $oid }`, `{ $date }`, `{ $uuid }`. Field names starting with
    /// `$` are refused: a value cannot carry operators.
    mutating func convertValue(_ node: Node, _ path: String) -> BSON? {
        switch node {
        case .scalar(let scalar):
            guard let kind = YAMLScalar(scalar) else {
                error(
                    node, path, "unsupported YAML tag '\(scalar.tag.description)'",
                    expected: "a plain value, or !!str", hint: "remove the tag; quote the value to make it a string")
                return nil
            }
            switch kind {
            case .null: return .null
            case .bool(let value): return .bool(value)
            case .int(let value): return Int32(exactly: value).map(BSON.int32) ?? .int64(value)
            case .double(let value): return .double(value)
            case .string(let text):
                if scalar.style == .plain { warnAboutAmbiguousText(text, node, path) }
                return .string(text)
            }
        case .sequence(let sequence):
            var array: [BSON] = []
            var valid = true
            for (index, item) in sequence.enumerated() {
                if let value = convertValue(item, "\(path)[\(index)]") { array.append(value) } else { valid = false }
            }
            return valid ? .array(array) : nil
        case .mapping(let mapping):
            if mapping.count == 1, let keyNode = mapping.keys.first, let key = keyNode.scalar?.string,
                Self.valueWrappers.contains(key), let operand = mapping.values.first
            {
                return convertWrapper(key, operand, join(path, key))
            }
            var document = BSONDocument()
            var valid = true
            for (keyNode, value) in mapping {
                guard let key = keyText(keyNode, path) else {
                    valid = false
                    continue
                }
                let keyPath = join(path, key)
                if refuseIfUnsafe(key, keyNode, keyPath) {
                    valid = false
                } else if key.hasPrefix("$") {
                    error(
                        keyNode, keyPath, "field name '\(key)' starts with '$'",
                        expected: "field names without '$', or a single { $oid }, { $date } or { $uuid }",
                        hint: Self.valueWrappers.contains(key)
                            ? "\(key) must be the only key of its mapping"
                            : "a value cannot hold operators or names starting with '$'")
                    valid = false
                } else if key.isEmpty || key.contains(".") {
                    error(
                        keyNode, keyPath, key.isEmpty ? "empty field name" : "field name '\(key)' contains '.'",
                        expected: "field names without dots inside a value",
                        hint: "nest mappings instead, e.g. `{ a: { b: 1 } }`")
                    valid = false
                } else if let converted = convertValue(value, keyPath) {
                    document.append(key, converted)
                } else {
                    valid = false
                }
            }
            return valid ? .document(document) : nil
        case .alias:
            error(
                node, path, "unsupported YAML alias", expected: "a value written out",
                hint: "write the value instead of an alias")
            return nil
        }
    }

    private mutating func convertWrapper(_ wrapper: String, _ operand: Node, _ path: String) -> BSON? {
        let text: String? =
            if case .scalar(let scalar) = operand, YAMLScalar(scalar) != .null { scalar.string } else { nil }
        switch wrapper {
        case "$oid":
            if let text, let id = BSONObjectId(text) { return .objectId(id) }
            error(
                operand, path, text.map { "'\($0)' is not an ObjectId" } ?? "wrong type: found \(describe(operand))",
                expected: "24 hexadecimal digits",
                hint: "copy the id as MongoDB shows it, e.g. `{ $oid: \"65a1f0c2e4b0a1b2c3d4e5f6\" }`")
        case "$date":
            if case .scalar(let scalar) = operand, case .int(let milliseconds) = YAMLScalar(scalar) {
                return .datetime(BSONDatetime(millisecondsSinceEpoch: milliseconds))
            }
            if let text, let date = Self.parseISODate(text) { return .datetime(BSONDatetime(date)) }
            error(
                operand, path, text.map { "'\($0)' is not a date" } ?? "wrong type: found \(describe(operand))",
                expected: "an ISO-8601 date-time with a time zone, a date (UTC midnight), or milliseconds since 1970",
                hint: "e.g. `{ $date: \"2024-01-31T00:00:00Z\" }` or `{ $date: \"2024-01-31\" }`")
        default:
            if let text, let uuid = UUID(uuidString: text) { return .binary(BSONBinary(uuid: uuid)) }
            error(
                operand, path, text.map { "'\($0)' is not a UUID" } ?? "wrong type: found \(describe(operand))",
                expected: "a UUID such as 123e4567-e89b-12d3-a456-426614174000",
                hint: "write the 32 hexadecimal digits in groups of 8-4-4-4-12")
        }
        return nil
    }

    /// `2024-01-31T10:00:00Z`, with fractional seconds or an offset, or `2024-01-31`
    /// (midnight UTC). A date-time without a time zone is refused: it would mean a
    /// different instant on every machine.
    static func parseISODate(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(secondsFromGMT: 0)
        let options: [ISO8601DateFormatter.Options]
        if text.wholeMatch(of: #/[0-9]{4}-[0-9]{2}-[0-9]{2}/#) != nil {
            options = [[.withFullDate, .withDashSeparatorInDate]]
        } else if text.wholeMatch(of: #/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[-+][0-9]{2}:?[0-9]{2})/#) != nil {
            options = [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime]]
        } else {
            return nil
        }
        for option in options {
            formatter.formatOptions = option
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }

    /// Plain text that YAML 1.1 tools would read as a boolean or a timestamp is
    /// probably meant as one; say what it is here.
    private mutating func warnAboutAmbiguousText(_ text: String, _ node: Node, _ path: String) {
        if YAMLScalar.yaml11Booleans.contains(text) {
            warning(
                node, path, "'\(text)' is the text \"\(text)\", not a boolean", expected: "true or false for a boolean",
                hint: "write true or false, or quote the value to keep the text and silence this warning")
        } else if YAMLScalar.looksLikeDate(text) {
            warning(
                node, path, "'\(text)' is text, not a date", expected: "{ $date: \"…\" } for a date",
                hint: "MongoDB compares dates only with dates; write `{ $date: \"\(text)\" }`, "
                    + "or quote the value to keep the text and silence this warning")
        }
    }
}
