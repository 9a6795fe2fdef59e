import BSON

/// What a sampled value looks like, by pattern only: the coverage report counts these
/// and never keeps or prints the value.
public enum ValueKind: String, Sendable, Hashable, Codable, CaseIterable {
    case email
    case phone
    case ipAddress = "ip-address"

    /// The kind of a string, or nil. Cheap checks, no regular expressions: a sample
    /// holds up to millions of values.
    public static func of(_ text: String) -> ValueKind? {
        guard text.utf8.count <= 254, !text.isEmpty else { return nil }
        if isEmail(text) { return .email }
        if isIPv4(text) || isIPv6(text) { return .ipAddress }
        if isPhone(text) { return .phone }
        return nil
    }

    /// One `@`, something before it, a domain with a dot and a top-level part of two
    /// or more letters after it, no spaces.
    static func isEmail(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !text.contains(where: \.isWhitespace) else { return false }
        let labels = parts[1].split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, labels.allSatisfy({ !$0.isEmpty }), let top = labels.last else { return false }
        return top.count >= 2 && top.allSatisfy { $0.isASCII && $0.isLetter }
    }

    static func isIPv4(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            (1...3).contains(part.count) && part.allSatisfy { $0.isASCII && $0.isNumber } && Int(part)! <= 255
        }
    }

    /// Hex groups of 1 to 4 digits separated by colons, at most one `::`, 3 to 8 groups
    /// (an embedded IPv4 tail counts as two).
    static func isIPv6(_ text: String) -> Bool {
        guard text.count >= 3, text.count <= 45, text.contains(":") else { return false }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return false }
        var groups = 0
        for half in halves where !half.isEmpty {
            let parts = half.split(separator: ":", omittingEmptySubsequences: false)
            for (index, part) in parts.enumerated() {
                if index == parts.count - 1, part.contains("."), isIPv4(String(part)) { groups += 2; continue }
                guard (1...4).contains(part.count), part.allSatisfy(\.isHexDigit) else { return false }
                groups += 1
            }
        }
        return halves.count == 2 ? groups < 8 : groups == 8
    }

    /// `+` and 8 to 15 digits, or 10 to 15 digits written with separators (spaces,
    /// dashes, dots, parentheses), as people write numbers; not a date (`2024-01-31`)
    /// and not a bare run of digits (a timestamp, an amount).
    static func isPhone(_ text: String) -> Bool {
        let allowed: Set<Character> = [" ", "-", ".", "(", ")", "/"]
        var digits = 0
        var separators = 0
        for (index, character) in text.enumerated() {
            if character.isASCII && character.isNumber { digits += 1 }
            else if character == "+" && index == 0 { continue }
            else if allowed.contains(character) { separators += 1 }
            else { return false }
        }
        if text.hasPrefix("+") { return (8...15).contains(digits) }
        return (10...15).contains(digits) && separators > 0 && !isDateLike(text)
    }

    private static func isDateLike(_ text: String) -> Bool {
        let parts = text.split(whereSeparator: { $0 == "-" || $0 == "." || $0 == "/" || $0 == " " })
        return parts.count >= 3 && parts[0].count == 4 && parts[1].count <= 2 && parts[2].count <= 2
    }
}
