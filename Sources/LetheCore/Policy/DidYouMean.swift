/// "Did you mean …?" for misspelled keys, actions and id types.
enum DidYouMean {
    /// The candidate closest to `word`, if it is close enough to be a likely typo:
    /// the same ignoring case, a prefix of at least three letters, or within an
    /// edit distance (with transpositions) of a third of the candidate's length.
    static func suggestion(for word: String, in candidates: [String]) -> String? {
        let lowered = Array(word.lowercased())
        guard !lowered.isEmpty else { return nil }
        var best: (candidate: String, distance: Int)?
        for candidate in candidates where candidate != word {
            let target = Array(candidate.lowercased())
            let distance: Int
            if lowered.count >= 3, target.starts(with: lowered) {
                distance = 1
            } else if abs(lowered.count - target.count) > 3 {
                // Never within the limit (at most 3): no need to compare a long word at all.
                continue
            } else {
                distance = editDistance(lowered, target)
            }
            let limit = max(1, min(3, target.count / 3))
            guard distance <= limit else { continue }
            if best == nil || distance < best!.distance { best = (candidate, distance) }
        }
        return best?.candidate
    }

    /// Optimal string alignment distance: insertions, deletions, substitutions and
    /// swaps of two neighbours each cost 1.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previousPrevious = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    value = min(value, previousPrevious[j - 2] + 1)
                }
                current[j] = value
            }
            (previousPrevious, previous, current) = (previous, current, previousPrevious)
        }
        return previous[b.count]
    }

    /// "did you mean 'x'?" or nil.
    static func hint(for word: String, in candidates: [String]) -> String? {
        suggestion(for: word, in: candidates).map { "did you mean '\($0)'?" }
    }
}
