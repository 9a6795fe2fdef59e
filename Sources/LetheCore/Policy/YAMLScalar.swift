import Yams

/// The type of a YAML scalar, decided the way a reader expects (YAML 1.2 core
/// schema), not YAML 1.1's: `yes`, `no`, `on`, `off`, `1_000` and `2024-01-31` are
/// strings. Anything quoted, or written as a block (`|`, `>`), is a string.
enum YAMLScalar: Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)

    /// nil for a scalar with a tag other than the standard ones (`!custom 1`).
    init?(_ scalar: Node.Scalar) {
        let tag = scalar.tag.description
        let text = scalar.string
        if tag == Tag.Name.str.rawValue {
            self = .string(text)
            return
        }
        guard tag.isEmpty || tag == "!" || Self.coreTags.contains(tag) else { return nil }
        guard scalar.style == .plain || scalar.style == .any else {
            self = .string(text)
            return
        }
        self = Self.plain(text)
    }

    private static let coreTags: Set<String> = [
        Tag.Name.null.rawValue, Tag.Name.bool.rawValue, Tag.Name.int.rawValue, Tag.Name.float.rawValue,
        Tag.Name.timestamp.rawValue, Tag.Name.merge.rawValue, Tag.Name.value.rawValue,
    ]

    static func plain(_ text: String) -> YAMLScalar {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .double(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .double(-.infinity)
        case ".nan", ".NaN", ".NAN": return .double(.nan)
        default: break
        }
        // Only text that starts like a number can be one: the regexes below are built on
        // each use, which made them most of the cost of validating a large policy.
        guard let first = text.utf8.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+")
            || first == UInt8(ascii: ".") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first)
        else { return .string(text) }
        if text.wholeMatch(of: #/[-+]?[0-9]+/#) != nil {
            if let value = Int64(text) { return .int(value) }
            if let value = Double(text) { return .double(value) }
        }
        if text.wholeMatch(of: #/[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?/#) != nil,
            let value = Double(text)
        {
            return .double(value)
        }
        return .string(text)
    }

    /// Words YAML 1.1 (and so many tools) reads as booleans; here they are text.
    static let yaml11Booleans: Set<String> = ["yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF"]

    /// Whether plain text looks like a date or a date-time, which YAML 1.1 reads as a
    /// timestamp; here it is text.
    static func looksLikeDate(_ text: String) -> Bool {
        guard let first = text.utf8.first, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return false }
        return text.wholeMatch(of: #/[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ][0-9]{1,2}:[0-9]{2}.*)?/#) != nil
    }

    static func == (lhs: YAMLScalar, rhs: YAMLScalar) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.int(let a), .int(let b)): a == b
        case (.double(let a), .double(let b)): a == b || (a.isNaN && b.isNaN)
        case (.string(let a), .string(let b)): a == b
        default: false
        }
    }
}
