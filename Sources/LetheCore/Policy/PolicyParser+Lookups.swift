import Foundation
import Yams

/// `subject.identifiers`, `lookups`, `maxLookupValues` and `using`: where the values a
/// rule matches come from, each name checked against what the policy declares.
extension PolicyParser {
    /// One `using` as written, checked once every name is known.
    struct UsingReference {
        /// `rules[2].using` or `lookups.accounts.using`.
        let path: String
        /// The lookup that uses them, for cycles; nil for a rule.
        let lookup: String?
        let items: [(name: String, node: Node)]
    }

    /// `subject.identifiers`: a name or a list of names, each once.
    mutating func parseIdentifiers(_ node: Node) -> [String] {
        let path = "subject.identifiers"
        let items: [Node]
        switch node {
        case .scalar: items = [node]
        case .sequence(let sequence): items = Array(sequence)
        default:
            wrongType(node, path, key: "identifiers")
            return []
        }
        var names: [String] = []
        for (index, item) in items.enumerated() {
            let itemPath = "\(path)[\(index)]"
            guard let name = string(item, itemPath) else { continue }
            guard checkSourceName(name, item, itemPath, what: "identifier") else { continue }
            if names.contains(name) {
                warning(item, itemPath, "'\(name)' is listed twice", expected: "each identifier once", hint: "remove the second one")
                continue
            }
            names.append(name)
        }
        return names
    }

    /// A name for an identifier or a lookup: plain, and never `user`.
    mutating func checkSourceName(_ name: String, _ node: Node, _ path: String, what: String) -> Bool {
        if name == MatchSource.user {
            error(node, path, "'user' cannot name \(what == "identifier" ? "an identifier" : "a lookup")",
                  expected: "another name", hint: "`user` already stands for the user's own ids in `using`")
            return false
        }
        guard MatchSource.isValidName(name) else {
            error(node, path, "invalid \(what) name '\(name)'",
                  expected: "1 to 64 letters, digits or '_', starting with a letter",
                  hint: what == "identifier" ? "e.g. `identifiers: [email]`" : "e.g. `lookups: { accounts: { … } }`")
            return false
        }
        return true
    }

    /// `lookups`: a mapping of names to lookups, in file order.
    mutating func parseLookups(_ node: Node) -> [LookupSpec] {
        guard case .mapping(let mapping) = node else {
            wrongType(node, "lookups", key: "lookups")
            return []
        }
        var lookups: [LookupSpec] = []
        var seen = Set<String>()
        for (keyNode, value) in mapping {
            guard let name = keyText(keyNode, "lookups") else { continue }
            let path = join("lookups", name)
            guard checkSourceName(name, keyNode, path, what: "lookup") else { continue }
            guard seen.insert(name).inserted else { continue }  // YAML refuses duplicate keys first
            if let lookup = parseLookup(name, value, path) { lookups.append(lookup) }
        }
        return lookups
    }

    private mutating func parseLookup(_ name: String, _ node: Node, _ path: String) -> LookupSpec? {
        let errorsBefore = errorCount
        guard case .mapping = node else {
            error(node, path, "wrong type: found \(describe(node))", expected: "a mapping with collection, match and field",
                  hint: "e.g. `\(name): { collection: customers, match: _id, field: accounts }`")
            return nil
        }
        guard let f = fields(node, path, allowed: PolicyKey.lookup, misplaced: PolicyKey.misplacedInLookup) else { return nil }
        let collection = required(f, "collection").flatMap { collectionName($0.value, join(path, "collection")) }
        let match = required(f, "match").flatMap { pathList($0.value, join(path, "match"), purpose: .match) }
        let using = f["using"].flatMap { parseUsing($0.value, join(path, "using"), lookup: name) } ?? [MatchSource.user]
        let scope = f["where"].flatMap { parseWhere($0.value, join(path, "where")) }
        var field: String?
        if let entry = f["field"] {
            field = singlePath(entry.value, join(path, "field"), purpose: .value)
        } else if !f.suggested.contains("field") {
            error(f.node, path, "missing required key 'field'", expected: "the path of the field whose values the lookup reads",
                  hint: "add e.g. `field: accounts` (each element of an array counts as one value) or `field: _id`")
        }
        guard errorCount == errorsBefore, let collection, let match, let field else { return nil }
        return LookupSpec(name: name, collection: collection, match: match, using: using, scope: scope, field: field,
                          location: location(node))
    }

    /// `using`: one name or a list of names; checked against the declared names later.
    mutating func parseUsing(_ node: Node, _ path: String, lookup: String?) -> [String]? {
        let items: [(Node, String)]
        switch node {
        case .scalar: items = [(node, path)]
        case .sequence(let sequence) where !sequence.isEmpty: items = sequence.enumerated().map { ($1, "\(path)[\($0)]") }
        case .sequence:
            error(node, path, "empty using", expected: PolicyKey.named("using").expected,
                  hint: "leave using out to match the user's own ids")
            return nil
        default:
            wrongType(node, path, key: "using")
            return nil
        }
        var names: [(name: String, node: Node)] = []
        for (item, itemPath) in items {
            guard let name = string(item, itemPath) else { return nil }
            if names.contains(where: { $0.name == name }) { continue }
            names.append((name, item))
        }
        usingReferences.append(UsingReference(path: path, lookup: lookup, items: names))
        return names.map(\.name)
    }

    mutating func parseMaxLookupValues(_ top: Fields) -> Int? {
        guard let entry = top["maxLookupValues"], let value = integer(entry.value, "maxLookupValues") else { return nil }
        guard value >= 1 else {
            error(entry.value, "maxLookupValues", "maxLookupValues must be at least 1, not \(value)",
                  expected: PolicyKey.named("maxLookupValues").expected,
                  hint: "a request whose lookup finds more values waits for approval; leave it out for the default of "
                      + "\(Policy.defaultMaxLookupValues)")
            return nil
        }
        return value
    }

    /// Every name in a `using` is `user`, a declared identifier or a lookup, and no
    /// lookup uses itself through others. Returns the lookups in dependency order.
    mutating func checkSources(identifiers: [String], lookups: [LookupSpec]) -> [LookupSpec] {
        let lookupNames = lookups.map(\.name)
        let known = [MatchSource.user] + identifiers + lookupNames
        for name in identifiers where lookupNames.contains(name) {
            if let lookup = lookups.first(where: { $0.name == name }) {
                diagnose(.error, at: (lookup.location.line, lookup.location.column), join("lookups", name),
                         "'\(name)' names both an identifier and a lookup", expected: "distinct names",
                         hint: "rename the lookup, e.g. `\(name)Lookup`")
            }
        }
        for reference in usingReferences {
            for (name, node) in reference.items where !known.contains(name) {
                let hint = DidYouMean.suggestion(for: name, in: known).map { "did you mean '\($0)'?" }
                    ?? "declare it: an identifier under `subject: { identifiers: [\(name)] }`, or a lookup under `lookups`"
                error(node, reference.path, "unknown name '\(name)' in using",
                      expected: "one of " + known.joined(separator: ", "), hint: hint)
            }
        }
        return orderedByDependency(lookups)
    }

    /// The lookups with each after those it uses; a cycle is an error at each lookup in it.
    private mutating func orderedByDependency(_ lookups: [LookupSpec]) -> [LookupSpec] {
        let byName = Dictionary(lookups.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var ordered: [LookupSpec] = []
        var done = Set<String>()
        var reported = Set<String>()
        func visit(_ lookup: LookupSpec, _ trail: [String], _ parser: inout PolicyParser) {
            if done.contains(lookup.name) { return }
            if let start = trail.firstIndex(of: lookup.name) {
                let cycle = trail[start...] + [lookup.name]
                if reported.insert(lookup.name).inserted {
                    parser.diagnose(.error, at: (lookup.location.line, lookup.location.column), parser.join("lookups", lookup.name),
                                    "lookup '\(lookup.name)' uses itself: " + cycle.joined(separator: " → "),
                                    expected: "lookups that use the user, identifiers or other lookups, without a cycle",
                                    hint: "remove one of these from the using of the next, e.g. `using: user`")
                }
                return
            }
            for name in lookup.using { if let used = byName[name] { visit(used, trail + [lookup.name], &parser) } }
            if done.insert(lookup.name).inserted { ordered.append(lookup) }
        }
        for lookup in lookups { visit(lookup, [], &self) }
        return ordered
    }
}
