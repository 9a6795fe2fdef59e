/// Which rules cover a field path of a collection, as the coverage report says it.
///
/// A path is covered by a rule on its collection (same database) that
/// - matches on it (or on an array of documents above it): the rule finds the user by it;
/// - deletes the documents: whatever they hold goes with the user;
/// - anonymizes it or a field above it (`set`, `unset`, `hash`, `pseudonymize`);
/// - retains the documents: keeping them is the policy's stated decision.
/// A retention rule (by age) does not cover: it erases nothing when a user asks.
enum CoverageRules {
    static func covering(_ path: String, database: String, collection: String, policies: [Policy]) -> [String] {
        var found: [String] = []
        for policy in policies where policy.database == database {
            for rule in policy.rules where rule.collection == collection {
                let name = "\(policy.name) #\(rule.index + 1) \(rule.action.name)"
                if rule.match.contains(where: { within(path, $0) }) {
                    found.append(name + " (match)")
                    continue
                }
                switch rule.action {
                case .delete, .retain:
                    found.append(name)
                case .anonymize(let changes):
                    let changed = Array(changes.set.keys) + changes.unset + changes.hash + changes.pseudonymize
                    if changed.contains(where: { within(path, $0) }) { found.append(name) }
                case .pull:
                    break
                }
            }
        }
        // A lookup covers nothing itself: it only reads values; the rule that uses them
        // covers its own match path and what its action changes, as every rule does.
        return found
    }

    /// Whether `path` is `field` or lies under it.
    static func within(_ path: String, _ field: String) -> Bool {
        path == field || path.hasPrefix(field + ".")
    }
}
