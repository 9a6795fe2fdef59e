import Yams

/// How large a policy may be, checked before anything costs in proportion to what the
/// file could expand into. A policy is a short file a person reviews; these limits are
/// far above any real one, and far below what could stall every command that reads it
/// (a 775-byte file of nested YAML aliases would otherwise expand into a `where` of a
/// million values). docs/policies.md ("Limits") lists them.
public enum PolicyLimits {
    /// Largest policy file, in bytes: 1 MiB.
    public static let maximumFileBytes = 1 << 20
    /// Most YAML nodes (scalars, lists, mappings) in one file: 100,000.
    public static let maximumNodes = 100_000
    /// Most entries in one list or mapping (a `$in`, a `match`, an `unset`): 10,000.
    public static let maximumCollectionCount = 10_000
    /// Most entries in `rules`, and in `retention`, of one policy: 1,000.
    public static let maximumRules = 1_000

    /// Where the first YAML alias (`*name`) inside a mapping key of `text` is, or nil.
    ///
    /// Aliases are fine as values: `measure` counts what they stand for without expanding
    /// them. In a key they are not, because composing the YAML compares keys, which
    /// expands an alias in a key as it is composed, before anything could count it. So
    /// this scan of the text runs first. It follows quotes, comments, flow collections
    /// and block scalars, so that `*` inside text is not taken for an alias; a key is
    /// text followed by `:`, a flow collection followed by `:`, or what follows `? `.
    static func firstAliasInKey(in text: String) -> (line: Int, column: Int)? {
        var scanner = AliasKeyScanner(lines: text.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0.unicodeScalars) })
        return scanner.run()
    }

    /// The number of nodes of `root`, counting each alias as the node it stands for, and
    /// the first list or mapping over `maximumCollectionCount`. Stops as soon as a limit
    /// is passed. Linear in the nodes as written: what an alias stands for is counted
    /// once and remembered (by the node's kind and place in the file).
    static func measure(_ root: Node) -> Measure {
        var counter = NodeCounter()
        _ = counter.count(root)
        return counter.measure
    }

    /// `measure` of `yaml`, composed; nil for an empty document.
    static func measure(yaml: String) throws -> Measure? {
        try Yams.compose(yaml: yaml).map(measure)
    }

    struct Measure {
        var nodes = 0
        /// Where the limit was passed: the node whose count passed it.
        var overLimit: (mark: Mark?, what: Problem)?

        enum Problem: Equatable {
            case tooManyNodes
            case collectionTooLong(Int)
        }
    }
}

/// Counts nodes with what each aliased node stands for remembered.
private struct NodeCounter {
    struct Key: Hashable {
        let kind: UInt8
        let line: Int
        let column: Int
    }

    var measure = PolicyLimits.Measure()
    var memo: [Key: Int] = [:]

    mutating func count(_ node: Node) -> Int {
        guard measure.overLimit == nil else { return 0 }
        let key = node.mark.map { Key(kind: Self.kind(node), line: $0.line, column: $0.column) }
        if let key, let known = memo[key] {
            add(known, at: node)
            return known
        }
        var total = 1
        add(1, at: node)
        switch node {
        case .scalar, .alias:
            break
        case .sequence(let sequence):
            if sequence.count > PolicyLimits.maximumCollectionCount { fail(node, .collectionTooLong(sequence.count)) }
            for child in sequence where measure.overLimit == nil { total += count(child) }
        case .mapping(let mapping):
            if mapping.count > PolicyLimits.maximumCollectionCount { fail(node, .collectionTooLong(mapping.count)) }
            for (key, value) in mapping where measure.overLimit == nil { total += count(key) + count(value) }
        }
        if let key { memo[key] = total }
        return total
    }

    /// Adds what a remembered node stands for (already counted: `count` added each child).
    private mutating func add(_ nodes: Int, at node: Node) {
        measure.nodes += nodes
        if measure.nodes > PolicyLimits.maximumNodes, measure.overLimit == nil { fail(node, .tooManyNodes) }
    }

    private mutating func fail(_ node: Node, _ problem: PolicyLimits.Measure.Problem) {
        if measure.overLimit == nil { measure.overLimit = (node.mark, problem) }
    }

    static func kind(_ node: Node) -> UInt8 {
        switch node {
        case .scalar: 0
        case .sequence: 1
        case .mapping: 2
        case .alias: 3
        }
    }
}

/// Finds an alias inside a mapping key; see `PolicyLimits.firstAliasInKey(in:)`.
/// Columns count Unicode scalars from 1.
private struct AliasKeyScanner {
    let lines: [[Unicode.Scalar]]
    var row = 0
    var column = 0
    /// The open `[` and `{`, each with the place of the first alias inside it, if any.
    var flows: [(line: Int, column: Int)?] = []
    /// True where a node may start: at the start of a line, after `- `, `? `, `: `, `[`, `{`, `,`.
    var atNodeStart = true
    /// After `? `, until the `:` of its value: everything read is part of a key.
    var explicitKey = false

    init(lines: [[Unicode.Scalar]]) { self.lines = lines }

    mutating func run() -> (line: Int, column: Int)? {
        while row < lines.count {
            column = 0
            if flows.isEmpty { atNodeStart = true }
            // A quoted scalar may end on a later line: `row` moves with it.
            while row < lines.count, column < lines[row].count {
                let line = lines[row]
                let scalar = line[column]
                if scalar == " " || scalar == "\t" { column += 1; continue }
                if scalar == "#", column == 0 || line[column - 1] == " " || line[column - 1] == "\t" { break }
                if let found = atNodeStart ? nodeStart(scalar, in: line) : plainText(scalar, in: line) { return found }
            }
            row += 1
        }
        return nil
    }

    /// A scalar where a node may start.
    private mutating func nodeStart(_ scalar: Unicode.Scalar, in line: [Unicode.Scalar]) -> (line: Int, column: Int)? {
        let next: Unicode.Scalar? = column + 1 < line.count ? line[column + 1] : nil
        let followedBySpace = next == nil || next == " " || next == "\t"
        switch scalar {
        case "*" where !followedBySpace:
            return alias(in: line)
        case "-" where followedBySpace:
            column += 1
        case "?" where followedBySpace:
            explicitKey = true
            column += 1
        case ":" where followedBySpace:
            explicitKey = false
            column += 1
        case "[", "{":
            flows.append(nil)
            column += 1
        case "]", "}":
            atNodeStart = false
            return closeFlow()
        case ",", "*":
            column += 1
        case "!", "&":
            skipToken(in: line)
        case "'", "\"":
            skipQuoted(scalar)
            atNodeStart = false
        case "|", ">":
            skipBlockScalar()
        default:
            atNodeStart = false
            column += 1
        }
        return nil
    }

    /// Inside plain text: only an indicator that ends it matters.
    private mutating func plainText(_ scalar: Unicode.Scalar, in line: [Unicode.Scalar]) -> (line: Int, column: Int)? {
        let next: Unicode.Scalar? = column + 1 < line.count ? line[column + 1] : nil
        if scalar == ":", next == nil || next == " " || next == "\t" || (!flows.isEmpty && next.map { ",[]{}".unicodeScalars.contains($0) } == true) {
            explicitKey = false
            atNodeStart = true
        } else if !flows.isEmpty, scalar == "," {
            atNodeStart = true
        } else if !flows.isEmpty, scalar == "]" || scalar == "}" {
            return closeFlow()
        }
        column += 1
        return nil
    }

    /// `*name`: in a key when `? ` is open, when it is followed by `:`, or when it is
    /// inside a flow collection (decided when the collection closes).
    private mutating func alias(in line: [Unicode.Scalar]) -> (line: Int, column: Int)? {
        let place = (line: row + 1, column: column + 1)
        if explicitKey { return place }
        if !flows.isEmpty, flows[flows.count - 1] == nil { flows[flows.count - 1] = place }
        column += 1
        while column < line.count, !" \t,[]{}".unicodeScalars.contains(line[column]) { column += 1 }
        atNodeStart = false
        return isFollowedByColon(in: line) ? place : nil
    }

    /// `]` or `}`: the collection is a key when `:` follows; then an alias inside it is in a key.
    private mutating func closeFlow() -> (line: Int, column: Int)? {
        column += 1
        guard let inner = flows.popLast() else { return nil }
        if let inner, !flows.isEmpty, flows[flows.count - 1] == nil { flows[flows.count - 1] = inner }
        if let inner, isFollowedByColon(in: lines[row]) { return inner }
        return nil
    }

    private func isFollowedByColon(in line: [Unicode.Scalar]) -> Bool {
        var index = column
        while index < line.count, line[index] == " " || line[index] == "\t" { index += 1 }
        return index < line.count && line[index] == ":"
    }

    private mutating func skipToken(in line: [Unicode.Scalar]) {
        while column < line.count, line[column] != " ", line[column] != "\t" { column += 1 }
    }

    /// From an opening quote to the closing one, across lines; `''` and `\"` are escapes.
    private mutating func skipQuoted(_ quote: Unicode.Scalar) {
        column += 1
        while row < lines.count {
            let line = lines[row]
            while column < line.count {
                let scalar = line[column]
                if quote == "\"", scalar == "\\" { column += 2; continue }
                if scalar == quote {
                    if quote == "'", column + 1 < line.count, line[column + 1] == "'" { column += 2; continue }
                    column += 1
                    return
                }
                column += 1
            }
            row += 1
            column = 0
        }
    }

    /// `|` or `>`: the rest of the line is its header, then every line more indented than
    /// this one (or blank) is text.
    private mutating func skipBlockScalar() {
        let indent = lines[row].prefix { $0 == " " }.count
        row += 1
        while row < lines.count,
              lines[row].allSatisfy({ $0 == " " || $0 == "\t" }) || lines[row].prefix(while: { $0 == " " }).count > indent {
            row += 1
        }
        // Continue at the end of the last line of text; the caller's loop moves on.
        row -= 1
        column = lines[row].count
    }
}
