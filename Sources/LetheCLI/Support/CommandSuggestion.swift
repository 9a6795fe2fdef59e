/// "Did you mean": the subcommand nearest an unknown word, by edit distance.
enum CommandSuggestion {
    /// The message for an unknown subcommand `word`, or nil when `word` is a known one
    /// (or an option, which the parser reports itself).
    static func problem(with arguments: [String], known: [String]) -> String? {
        guard let word = arguments.first, !word.hasPrefix("-"), word != "help", !known.contains(word) else { return nil }
        let list = "`lethe --help` lists them: \(known.joined(separator: ", "))"
        guard let nearest = nearest(word, among: known) else { return "error: lethe has no command '\(word)'; \(list)" }
        return "error: lethe has no command '\(word)'; did you mean '\(nearest)'? (\(list))"
    }

    /// The known word within a third of its length in edits (at least 2), or a prefix match.
    static func nearest(_ word: String, among known: [String]) -> String? {
        if let prefixed = known.first(where: { $0.hasPrefix(word) || word.hasPrefix($0) }), word.count >= 2 { return prefixed }
        let scored = known.map { (name: $0, distance: distance(Array(word), Array($0))) }.min { $0.distance < $1.distance }
        guard let best = scored, best.distance <= max(2, best.name.count / 3) else { return nil }
        return best.name
    }

    /// Levenshtein distance.
    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}
