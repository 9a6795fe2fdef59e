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
        // Lookups (issue 17: values found through another collection) cover the paths
        // they read: add them here when they exist.
        return found + lookupsCovering(path, database: database, collection: collection, policies: policies)
    }

    /// The hook for lookups; none exist yet.
    static func lookupsCovering(_ path: String, database: String, collection: String, policies: [Policy]) -> [String] { [] }

    /// Whether `path` is `field` or lies under it.
    static func within(_ path: String, _ field: String) -> Bool {
        path == field || path.hasPrefix(field + ".")
    }
}
