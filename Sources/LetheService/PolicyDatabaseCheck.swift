import BSON
import LetheCore
import MongoKit

/// What `lethe validate --check-db` finds for one rule: whether its collection exists
/// and whether each match path leads an index. An unindexed match means a collection
/// scan for every request. For a retention rule (`isRetention`), the path is its date
/// field: unindexed, every sweep scans the collection to find what is due.
public struct RuleDatabaseCheck: Sendable, Hashable {
    public let policy: String
    /// The rule's place in the policy's `rules`, or in its `retention` when `isRetention`.
    public let ruleIndex: Int
    public let isRetention: Bool
    public let namespace: String
    public let collectionExists: Bool
    /// Match paths that no index starts with (for string ids: no index under the
    /// simple collation, since Lethe compares them as bytes).
    public let unindexedPaths: [String]
    /// The collection's default collation's locale, when it has one other than simple:
    /// an index created without a collation then inherits it.
    public let defaultCollation: String?

    public init(policy: String, ruleIndex: Int, isRetention: Bool = false, namespace: String, collectionExists: Bool, unindexedPaths: [String],
                defaultCollation: String? = nil) {
        self.policy = policy
        self.ruleIndex = ruleIndex
        self.isRetention = isRetention
        self.namespace = namespace
        self.collectionExists = collectionExists
        self.unindexedPaths = unindexedPaths
        self.defaultCollation = defaultCollation
    }

    public var isClean: Bool { collectionExists && unindexedPaths.isEmpty }

    public var description: String {
        let head = isRetention ? "\(policy) retention[\(ruleIndex)] \(namespace):" : "\(policy) #\(ruleIndex + 1) \(namespace):"
        guard collectionExists else {
            return head + " warning: the collection does not exist (yet); the rule will match nothing until it does"
        }
        guard unindexedPaths.isEmpty else {
            let keys = unindexedPaths.map { "\"\($0)\": 1" }.joined(separator: ", ")
            let collection = namespace.split(separator: ".", maxSplits: 1).last ?? ""
            if isRetention {
                return head + " warning: no index starts with \(unindexedPaths.joined(separator: ", ")): every sweep scans the whole collection to find what is due (each count and each write); create one with db.\(collection).createIndex({\(keys)})"
            }
            guard let defaultCollation else {
                return head + " warning: no index starts with \(unindexedPaths.joined(separator: ", ")): every request scans the whole collection; create one with db.\(collection).createIndex({\(keys)})"
            }
            return head + " warning: no index under the simple collation starts with \(unindexedPaths.joined(separator: ", ")): the collection's default collation is '\(defaultCollation)', and Lethe compares ids as bytes (an index under another collation does not serve that), so every request scans the whole collection; create one with db.\(collection).createIndex({\(keys)}, {collation: {locale: \"simple\"}})"
        }
        return head + (isRetention ? " ok (collection exists, date field indexed)" : " ok (collection exists, match indexed)")
    }
}

/// An error `lethe validate --check-db` finds in a policy's `users`: the orphan sweep
/// would refuse to run (every user would look orphaned). Names, never values.
public struct UsersDatabaseProblem: Sendable, Hashable, CustomStringConvertible {
    public let policy: String
    public let namespace: String
    /// The field no users document has; nil when the collection is empty or missing.
    public let missingField: String?

    public var description: String {
        guard let missingField else {
            return "\(policy) users \(namespace): error: the users collection is empty or does not exist; every user would look orphaned (check users.collection and users.database)"
        }
        return "\(policy) users \(namespace): error: no users document has the field '\(missingField)'; every user linked through it would look orphaned (check the field's name, and that the app writes it)"
    }
}

public enum PolicyDatabaseCheck {
    /// Each policy's `users`: the collection holds documents, and some of them hold
    /// `field` and (when named) `identities`. Counts only; writes nothing.
    public static func users(_ policies: [Policy], pool: MongoClientPool) async throws -> [UsersDatabaseProblem] {
        var problems: [UsersDatabaseProblem] = []
        for policy in policies {
            guard let users = policy.users, let namespace = policy.usersNamespace else { continue }
            let collection = pool.database(namespace.database).collection(namespace.collection)
            guard try await collection.findOne([:]) != nil else {
                problems.append(UsersDatabaseProblem(policy: policy.name, namespace: namespace.description, missingField: nil))
                continue
            }
            for field in [users.field] + (users.identities.map { [$0] } ?? [])
            where try await collection.findOne([field: ["$exists": true]]) == nil {
                problems.append(UsersDatabaseProblem(policy: policy.name, namespace: namespace.description, missingField: field))
            }
        }
        return problems
    }

    /// What a sample of each collection holds at every path the rules match and the
    /// lookups read (`PolicyPathCheck`). Reads only.
    public static func paths(_ policies: [Policy], pool: MongoClientPool, sampleSize: Int = 1_000) async throws -> [PathFinding] {
        let store = MongoDataStore(pool: pool)
        return try await PolicyPathCheck(data: store, sampler: store, sampleSize: sampleSize).run(policies)
    }

    /// Each rule's and each retention rule's collection and index. Reads collection and
    /// index lists only; writes nothing.
    public static func run(_ policies: [Policy], pool: MongoClientPool) async throws -> [RuleDatabaseCheck] {
        var checks: [RuleDatabaseCheck] = []
        // Per database: each collection's default collation's locale ("simple" when none).
        var collectionsByDatabase: [String: [String: String]] = [:]
        // Each collection's indexes, listed once however many rules read it.
        var indexesByNamespace: [String: [BSONDocument]] = [:]
        /// The first key of each index of `collection`; with `simpleCollationOnly`, of
        /// the indexes under the simple collation only (those that serve comparing strings
        /// as bytes; ObjectIds, binaries and dates compare the same under any collation).
        func leadingKeys(_ database: String, _ collection: String, simpleCollationOnly: Bool) async throws -> Set<String> {
            let namespace = "\(database).\(collection)"
            if indexesByNamespace[namespace] == nil {
                indexesByNamespace[namespace] = try await pool.database(database).collection(collection).listIndexes()
            }
            let serving = indexesByNamespace[namespace]!.filter { index in
                !simpleCollationOnly || (index.value(atPath: "collation.locale")?.stringValue ?? "simple") == "simple"
            }
            return Set(serving.compactMap { $0["key"]?.documentValue?.keys.first })
        }
        for policy in policies {
            if collectionsByDatabase[policy.database] == nil {
                var collations: [String: String] = [:]
                for entry in try await pool.database(policy.database).listCollections() {
                    guard let name = entry["name"]?.stringValue else { continue }
                    collations[name] = entry.value(atPath: "options.collation.locale")?.stringValue ?? "simple"
                }
                collectionsByDatabase[policy.database] = collations
            }
            let stringIds = policy.subject.idType == .string || policy.subject.idType == .any
            for rule in policy.rules {
                let collation = collectionsByDatabase[policy.database]![rule.collection]
                var unindexed: [String] = []
                if collation != nil {
                    let leading = try await leadingKeys(policy.database, rule.collection, simpleCollationOnly: stringIds)
                    unindexed = rule.match.filter { !leading.contains($0) }
                }
                checks.append(RuleDatabaseCheck(
                    policy: policy.name, ruleIndex: rule.index, namespace: "\(policy.database).\(rule.collection)",
                    collectionExists: collation != nil, unindexedPaths: unindexed,
                    defaultCollation: collation.flatMap { $0 == "simple" ? nil : $0 }
                ))
            }
            for rule in policy.retention {
                let exists = collectionsByDatabase[policy.database]![rule.collection] != nil
                var unindexed: [String] = []
                if exists, !(try await leadingKeys(policy.database, rule.collection, simpleCollationOnly: false)).contains(rule.field) {
                    unindexed = [rule.field]
                }
                checks.append(RuleDatabaseCheck(
                    policy: policy.name, ruleIndex: rule.index, isRetention: true, namespace: "\(policy.database).\(rule.collection)",
                    collectionExists: exists, unindexedPaths: unindexed
                ))
            }
        }
        return checks
    }
}
