import BSON

/// One parsed, validated policy file: which documents of one database belong to a
/// user, and what happens to them when that user asks to be forgotten.
///
/// Values come from `PolicyLoader`, which only returns policies without errors.
/// Built directly (in tests), a policy is not validated, but its `fingerprint` is
/// computed the same way.
public struct Policy: Sendable, Hashable {
    /// The only format version this build reads.
    public static let currentVersion = 1
    /// The due date of a request when the policy sets no `deadline`: 30 days from
    /// its receipt (GDPR's "one month", CCPA's 45 days, whichever is stricter).
    public static let defaultDeadline = PolicyDuration(30, .day)
    /// The guard rail when the policy sets no `maxDocumentsPerRequest`: a request
    /// that would change more documents than this waits for approval.
    public static let defaultMaxDocumentsPerRequest = 10_000
    /// The bound when the policy sets no `maxLookupValues`: a request whose lookup
    /// finds more values than this waits for approval.
    public static let defaultMaxLookupValues = 10_000

    /// Format version; always `currentVersion` for loaded policies.
    public let version: Int
    /// Unique across the policy directory; names the policy in receipts and reports.
    public let name: String
    /// The MongoDB database every rule's collection lives in.
    public let database: String
    /// Free text for people; not part of the fingerprint.
    public let description: String?
    /// How the user's ids look.
    public let subject: SubjectSpec
    /// The `deadline` as written; nil when absent (see `effectiveDeadline`).
    public let deadline: PolicyDuration?
    /// The `maxDocumentsPerRequest` as written; nil when absent (see
    /// `effectiveMaxDocumentsPerRequest`).
    public let maxDocumentsPerRequest: Int?
    /// Values read before any rule runs, in dependency order (a lookup comes after
    /// the lookups it uses).
    public let lookups: [LookupSpec]
    /// The `maxLookupValues` as written; nil when absent (see `effectiveMaxLookupValues`).
    public let maxLookupValues: Int?
    /// Rules applied, in file order, to one user's documents.
    public let rules: [ErasureRule]
    /// Rules applied periodically to everybody's documents by age.
    public let retention: [RetentionRule]
    /// Where the existing users are listed, for the orphan sweep; nil when not given.
    public let users: UsersSpec?
    /// How long tombstones of erased values are kept; nil when not given (see
    /// `effectiveTombstoneKeep`).
    public let tombstones: TombstoneSpec?
    /// `sha256:` and 16 hex digits identifying the meaning of the policy: comments,
    /// key order, layout and descriptions do not change it; any change to what the
    /// policy does (including a changed default) does.
    public let fingerprint: String
    /// The file the policy was read from, as the loader was given it.
    public let sourceFile: String

    /// Computes `fingerprint` from the other values.
    public init(
        version: Int = Policy.currentVersion,
        name: String,
        database: String,
        description: String? = nil,
        subject: SubjectSpec = SubjectSpec(),
        deadline: PolicyDuration? = nil,
        maxDocumentsPerRequest: Int? = nil,
        lookups: [LookupSpec] = [],
        maxLookupValues: Int? = nil,
        rules: [ErasureRule],
        retention: [RetentionRule] = [],
        users: UsersSpec? = nil,
        tombstones: TombstoneSpec? = nil,
        sourceFile: String = ""
    ) {
        self.version = version
        self.name = name
        self.database = database
        self.description = description
        self.subject = subject
        self.deadline = deadline
        self.maxDocumentsPerRequest = maxDocumentsPerRequest
        self.lookups = lookups
        self.maxLookupValues = maxLookupValues
        self.rules = rules
        self.retention = retention
        self.users = users
        self.tombstones = tombstones
        self.sourceFile = sourceFile
        self.fingerprint = PolicyCanonicalForm.fingerprint(
            version: version, name: name, database: database, subject: subject,
            deadline: deadline ?? Self.defaultDeadline,
            maxDocumentsPerRequest: maxDocumentsPerRequest ?? Self.defaultMaxDocumentsPerRequest,
            rules: rules, retention: retention, users: users, tombstones: tombstones,
            lookups: lookups, maxLookupValues: maxLookupValues ?? Self.defaultMaxLookupValues
        )
    }

    /// `deadline`, or `defaultDeadline` (30d) when the policy sets none.
    public var effectiveDeadline: PolicyDuration { deadline ?? Self.defaultDeadline }

    /// `maxDocumentsPerRequest`, or `defaultMaxDocumentsPerRequest` (10000).
    public var effectiveMaxDocumentsPerRequest: Int {
        maxDocumentsPerRequest ?? Self.defaultMaxDocumentsPerRequest
    }

    /// `maxLookupValues`, or `defaultMaxLookupValues` (10000).
    public var effectiveMaxLookupValues: Int { maxLookupValues ?? Self.defaultMaxLookupValues }

    /// The lookup named `name`, if the policy has one.
    public func lookup(named name: String) -> LookupSpec? { lookups.first { $0.name == name } }

    /// The namespace of the users collection, when `users` is given.
    public var usersNamespace: Namespace? {
        users.map { Namespace(database: $0.database ?? database, collection: $0.collection) }
    }

    /// The names of the collections the policy touches, in first-use order.
    public var collections: [String] {
        var seen = Set<String>()
        return (lookups.map(\.collection) + rules.map(\.collection) + retention.map(\.collection)).filter { seen.insert($0).inserted }
    }
}

/// How a policy recognizes the user it erases.
public struct SubjectSpec: Sendable, Hashable {
    /// The BSON type of the user's ids in the matched fields. Default: `.any`.
    public var idType: SubjectIDType
    /// Whether the ids of identities linked to the user (other login providers)
    /// count as the user's ids too. Default: true.
    public var includeIdentities: Bool
    /// Named identifiers (`email`) a request may carry besides ids. Default: none.
    public var identifiers: [String]

    public init(idType: SubjectIDType = .any, includeIdentities: Bool = true, identifiers: [String] = []) {
        self.idType = idType
        self.includeIdentities = includeIdentities
        self.identifiers = identifiers
    }
}

/// The BSON type a policy expects the user's ids to have in the matched fields.
public enum SubjectIDType: String, Sendable, Hashable, CaseIterable {
    /// A string, compared as written.
    case string
    /// A 24-hex-digit ObjectId.
    case objectId
    /// A UUID, stored as BSON binary subtype 4.
    case uuid
    /// Whatever the id parses as: a string always, and also an ObjectId or a UUID
    /// when the text has that form.
    case any
}
