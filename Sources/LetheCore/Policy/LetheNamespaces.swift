/// Which databases and collections Lethe may be pointed at, so that no flag or policy can
/// aim it at its own records (a policy on the state database would erase its own queue;
/// an inbox on `receipts` would consume the receipts) or at MongoDB's own databases.
///
/// Every check here names the flag or policy and what to do, and never a value from the
/// data. `docs/events.md` ("What Lethe refuses") lists the rules.
public enum LetheNamespaces {
    /// MongoDB's own databases: never a state database, never a policy's database.
    public static let systemDatabases: Set<String> = ["admin", "local", "config"]

    /// The inbox's collection name in the state database; everything else there is a record.
    public static let inboxCollection = "inbox"

    /// Where refused inbox documents are kept (in the state database), with their refusal.
    public static let inboxRejectedCollection = "inboxRejected"

    /// Why `name` is not a MongoDB database name (MongoDB's rules: not empty, shorter than
    /// 64 bytes, none of `/\. "$*<>:|?` or NUL), or nil when it is one.
    public static func databaseNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "it is empty" }
        if name.utf8.count >= 64 { return "it is 64 bytes or longer" }
        let forbidden = "/\\. \"$*<>:|?\0"
        if let bad = name.first(where: { forbidden.contains($0) }) {
            switch bad {
            case " ": return "it contains a space"
            case "\0": return "it contains a NUL character"
            default: return "it contains '\(bad)'"
            }
        }
        return nil
    }

    /// Why `name` is not a collection Lethe may use, or nil.
    public static func collectionNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "it is empty" }
        if name.utf8.count > 255 { return "it is longer than 255 bytes" }
        if name.contains("$") { return "it contains '$'" }
        if name.unicodeScalars.contains("\0") { return "it contains a NUL character" }
        if name.hasPrefix("system.") { return "system collections belong to MongoDB" }
        return nil
    }

    /// The problems with `stateDatabase` as Lethe's state database under `policies`.
    public static func checkStateDatabase(_ stateDatabase: String, policies: [Policy]) -> [NamespaceProblem] {
        if let problem = databaseNameProblem(stateDatabase) {
            return [NamespaceProblem(kind: .badUsage, "--state-db is not a database name: \(problem); "
                                        + "use a plain name such as `lethe`")]
        }
        if systemDatabases.contains(stateDatabase) {
            return [NamespaceProblem(kind: .badUsage, "--state-db '\(stateDatabase)' is one of MongoDB's own databases "
                                        + "(admin, local, config); use a database of Lethe's own, such as `lethe`")]
        }
        var problems: [NamespaceProblem] = []
        for policy in policies {
            if policy.database == stateDatabase {
                problems.append(NamespaceProblem(kind: .conflict, "\(policy.sourceFile): policy \(policy.name) erases in database '\(policy.database)', "
                    + "which is the state database (--state-db): its rules would erase Lethe's own requests and receipts; "
                    + "give Lethe a database of its own with --state-db, or fix the policy's database"))
            }
            if let users = policy.users?.database, users == stateDatabase {
                problems.append(NamespaceProblem(kind: .conflict, "\(policy.sourceFile): policy \(policy.name) lists its users in database '\(users)', "
                    + "which is the state database (--state-db); point users.database at the application's database"))
            }
        }
        return problems
    }

    /// The problem with `database.collection` as the inbox, or nil. The inbox is read and
    /// emptied, so it may be neither one of Lethe's records (anything in the state database
    /// but `inbox`) nor a collection any policy names.
    public static func checkInbox(database: String, collection: String, stateDatabase: String,
                                  policies: [Policy]) -> NamespaceProblem? {
        let namespace = "\(database).\(collection)"
        if let problem = databaseNameProblem(database) {
            return NamespaceProblem(kind: .badUsage, "--inbox \(namespace): the database is not a database name: \(problem); "
                                    + "write --inbox DATABASE.COLLECTION, e.g. --inbox lethe.inbox")
        }
        if systemDatabases.contains(database) {
            return NamespaceProblem(kind: .badUsage, "--inbox \(namespace) is in one of MongoDB's own databases; "
                                    + "use a collection only producers write to, such as \(stateDatabase).inbox")
        }
        if let problem = collectionNameProblem(collection) {
            return NamespaceProblem(kind: .badUsage, "--inbox \(namespace): the collection name is not usable: \(problem)")
        }
        if database == stateDatabase, collection != inboxCollection {
            return NamespaceProblem(kind: .badUsage, "--inbox \(namespace) is one of Lethe's own records in the state database; "
                + "the inbox is emptied as it is read, so it would be destroyed. Use \(stateDatabase).\(inboxCollection) "
                + "(the default) or a collection outside the state database that only producers write to")
        }
        for policy in policies where policy.names(database: database, collection: collection) {
            return NamespaceProblem(kind: .conflict, "--inbox \(namespace) is a collection policy \(policy.name) (\(policy.sourceFile)) names; "
                + "the inbox is emptied as it is read, so its documents would be destroyed. Point --inbox at the "
                + "collection the auth trigger inserts events into (default \(stateDatabase).\(inboxCollection))")
        }
        return nil
    }
}

extension Policy {
    /// Whether a rule, a retention rule or `users` of this policy is about `database.collection`.
    func names(database: String, collection: String) -> Bool {
        if let users = usersNamespace, users.database == database, users.collection == collection { return true }
        return self.database == database && collections.contains(collection)
    }
}

/// A flag or policy that points Lethe at a namespace it may not use. `description` names
/// the flag or the policy file and what to do; it holds no data.
public struct NamespaceProblem: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The flag alone is wrong (a bad name, a system database, a Lethe record): exit 64.
        case badUsage
        /// The flag contradicts a policy: exit 65.
        case conflict
    }

    public let kind: Kind
    public let description: String

    init(kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}
