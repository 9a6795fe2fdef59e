import BSON
import LetheCore
import MongoKit

/// What `lethe validate --check-db` finds for one rule: whether its collection exists
/// and whether each match path leads an index. An unindexed match means a collection
/// scan for every request.
public struct RuleDatabaseCheck: Sendable, Hashable {
    public let policy: String
    public let ruleIndex: Int
    public let namespace: String
    public let collectionExists: Bool
    /// Match paths that no index starts with.
    public let unindexedPaths: [String]

    public var isClean: Bool { collectionExists && unindexedPaths.isEmpty }

    public var description: String {
        let head = "\(policy) #\(ruleIndex + 1) \(namespace):"
        guard collectionExists else {
            return head + " warning: the collection does not exist (yet); the rule will match nothing until it does"
        }
        guard unindexedPaths.isEmpty else {
            return head + " warning: no index starts with \(unindexedPaths.joined(separator: ", ")): every request scans the whole collection; create one with db.\(namespace.split(separator: ".", maxSplits: 1).last ?? "").createIndex({\(unindexedPaths.map { "\"\($0)\": 1" }.joined(separator: ", "))})"
        }
        return head + " ok (collection exists, match indexed)"
    }
}

public enum PolicyDatabaseCheck {
    /// Reads collection and index lists only; writes nothing.
    public static func run(_ policies: [Policy], pool: MongoClientPool) async throws -> [RuleDatabaseCheck] {
        var checks: [RuleDatabaseCheck] = []
        var collectionsByDatabase: [String: Set<String>] = [:]
        for policy in policies {
            if collectionsByDatabase[policy.database] == nil {
                collectionsByDatabase[policy.database] = Set(try await pool.database(policy.database).listCollectionNames())
            }
            for rule in policy.rules {
                let exists = collectionsByDatabase[policy.database]!.contains(rule.collection)
                var unindexed: [String] = []
                if exists {
                    let indexes = try await pool.database(policy.database).collection(rule.collection).listIndexes()
                    let leading = Set(indexes.compactMap { $0["key"]?.documentValue?.keys.first })
                    unindexed = rule.match.filter { !leading.contains($0) }
                }
                checks.append(RuleDatabaseCheck(
                    policy: policy.name, ruleIndex: rule.index, namespace: "\(policy.database).\(rule.collection)",
                    collectionExists: exists, unindexedPaths: unindexed
                ))
            }
        }
        return checks
    }
}
