import Foundation

/// What `lethe coverage` found: per sampled collection, the field paths whose values
/// look personal (ids of known users, emails, phone numbers, IP addresses) and whether
/// a rule covers them. Counts and kinds only, never a value.
public struct CoverageReport: Sendable, Hashable, Codable {
    public struct Collection: Sendable, Hashable, Codable {
        public var database: String
        public var collection: String
        /// Documents the sample returned (at most the sample size).
        public var sampled: Int
        /// Distinct field paths seen in the sample.
        public var pathsSeen: Int
        /// Paths left unexamined past `CoverageScanner.Options.maxPathsPerCollection`.
        public var pathsOmitted: Int
        /// Whether some rule names this collection.
        public var hasRule: Bool
        /// The match fields of the rules on this collection, in rule order.
        public var matchedOn: [String]
        /// Paths holding personal-looking values, in path order.
        public var paths: [Path]

        public var namespace: String { "\(database).\(collection)" }
        public var uncovered: [Path] { paths.filter { !$0.covered } }
    }

    public struct Path: Sendable, Hashable, Codable {
        /// A dotted path as a query names it (array elements share their array's path).
        public var path: String
        /// Values sampled at the path (array elements counted one by one).
        public var values: Int
        /// Of those, ids found in a users collection of the policies.
        public var userIds: Int
        public var emails: Int
        public var phones: Int
        public var ipAddresses: Int
        /// How rules cover it, e.g. "todo-app #1 delete"; empty when none does.
        public var coveredBy: [String]
        /// Whether some rule covers it (`coveredBy` is not empty).
        public var covered: Bool

        public init(path: String, values: Int, userIds: Int, emails: Int, phones: Int, ipAddresses: Int, coveredBy: [String]) {
            self.path = path
            self.values = values
            self.userIds = userIds
            self.emails = emails
            self.phones = phones
            self.ipAddresses = ipAddresses
            self.coveredBy = coveredBy
            self.covered = !coveredBy.isEmpty
        }
        /// The kinds found, most frequent first.
        public var kinds: [String] {
            [("user-id", userIds), ("email", emails), ("phone", phones), ("ip-address", ipAddresses)]
                .filter { $0.1 > 0 }.sorted { $0.1 > $1.1 }.map(\.0)
        }
    }

    public var generatedAt: Date
    /// Documents asked for per collection.
    public var sampleSize: Int
    /// Databases examined.
    public var databases: [String]
    /// Whether any policy says where its users are (else no value can count as a user id).
    public var usersKnown: Bool
    public var collections: [Collection]

    /// Every uncovered path, with its collection.
    public var uncovered: [(collection: Collection, path: Path)] {
        collections.flatMap { collection in collection.uncovered.map { (collection, $0) } }
    }
}
