import Foundation

/// What one sweep did (or, dry, would do), per rule. No personal data: counts only.
public struct SweepReport: Sendable, Hashable, Codable {
    /// What a sweep line's rule does: a rule's action, or the `then` of a retain rule
    /// applied to retained documents now due.
    public enum Action: String, Sendable, Hashable, Codable {
        case delete, anonymize, pull, retain
        case thenDelete = "then-delete", thenAnonymize = "then-anonymize", thenPull = "then-pull"

        public init(_ kind: ActionKind) {
            switch kind {
            case .delete: self = .delete
            case .anonymize: self = .anonymize
            case .pull: self = .pull
            case .retain: self = .retain
            }
        }

        /// The `then` of retained documents.
        public static func then(_ kind: ActionKind) -> Action {
            switch kind {
            case .delete: .thenDelete
            case .anonymize: .thenAnonymize
            case .pull, .retain: .thenPull
            }
        }

        public var kind: ActionKind {
            switch self {
            case .delete, .thenDelete: .delete
            case .anonymize, .thenAnonymize: .anonymize
            case .pull, .thenPull: .pull
            case .retain: .retain
            }
        }
    }

    public struct Rule: Sendable, Hashable, Codable {
        public var policy: String
        public var ruleIndex: Int
        public var namespace: String
        public var action: Action
        /// Documents past their period (still needing the action); for an orphan
        /// sweep, the documents of the orphans that the rule covers.
        public var matched: Int
        public var deleted: Int
        public var modified: Int
        /// Orphan sweeps only: orphan ids (each a user to erase) that the rule's
        /// documents hold.
        public var users: Int?

        public init(policy: String, ruleIndex: Int, namespace: String, action: Action, matched: Int = 0, deleted: Int = 0, modified: Int = 0,
                    users: Int? = nil) {
            self.policy = policy
            self.ruleIndex = ruleIndex
            self.namespace = namespace
            self.action = action
            self.matched = matched
            self.deleted = deleted
            self.modified = modified
            self.users = users
        }

        public var counts: RuleCounts { RuleCounts(matched: matched, deleted: deleted, modified: modified) }
    }

    /// What an orphan sweep found, as counts (never an id).
    public struct Orphans: Sendable, Hashable, Codable {
        /// Distinct ids (of users and of their identities) the rules' documents hold.
        public var linked: Int
        /// Linked ids found in no users collection, without a request yet.
        public var orphans: Int
        /// Orphans first seen less than the grace period ago: left for a later sweep.
        public var waiting: Int
        /// Orphans with a request already (from an earlier sweep or a deletion event).
        public var alreadyRequested: Int
        /// Requests recorded by this sweep (0 in a dry run).
        public var requested: Int
        /// Ids that cannot be a request (not a plain id, or not of the policies' idType).
        public var refused: Int
        /// Why the sweep would stop, in a dry run that crossed a limit.
        public var refusal: String?

        public init(linked: Int, orphans: Int, waiting: Int, alreadyRequested: Int, requested: Int, refused: Int, refusal: String? = nil) {
            self.linked = linked
            self.orphans = orphans
            self.waiting = waiting
            self.alreadyRequested = alreadyRequested
            self.requested = requested
            self.refused = refused
            self.refusal = refusal
        }
    }

    /// What a restore sweep found, as counts (never a value).
    public struct Restore: Sendable, Hashable, Codable {
        /// Distinct values (ids) the rules' documents hold.
        public var values = 0
        /// Values whose tombstone matched (erased since `--since`, when given).
        public var tombstoned = 0
        /// Tombstoned values kept: a users document holds them that was created after
        /// the tombstone (the user signed up again).
        public var reRegistered = 0
        /// Tombstoned values kept: a users document holds them whose creation time is
        /// unknown (no `users.created`, no ObjectId `_id`).
        public var creationUnknown = 0
        /// Erased users (one per tombstone set, i.e. per earlier request) whose data is back.
        public var users = 0
        /// Of those, users with an unfinished request already.
        public var alreadyRequested = 0
        /// Users left for the next sweep, past the per-sweep limit.
        public var overLimit = 0
        /// Requests recorded by this sweep (0 in a dry run).
        public var requested = 0
        /// Users that cannot be a request (ids no longer fit the policies, or only an
        /// identity id was found while some policy does not erase identities).
        public var refused = 0
        /// Erased users found only by a named identifier (an email), left without a
        /// request (`RestoreSweeper.Options.identifierOnly`), and the first of their
        /// earlier requests' ids (at most `listedRequests`), for an operator to check.
        public var identifierOnly = 0
        public var identifierOnlyRequests: [String] = []
        public static let listedRequests = 100

        public init() {}

        /// Sweeps saved before identifiers existed lack the last two counts.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            func count(_ key: CodingKeys) throws -> Int { try container.decodeIfPresent(Int.self, forKey: key) ?? 0 }
            values = try count(.values)
            tombstoned = try count(.tombstoned)
            reRegistered = try count(.reRegistered)
            creationUnknown = try count(.creationUnknown)
            users = try count(.users)
            alreadyRequested = try count(.alreadyRequested)
            overLimit = try count(.overLimit)
            requested = try count(.requested)
            refused = try count(.refused)
            identifierOnly = try count(.identifierOnly)
            identifierOnlyRequests = try container.decodeIfPresent([String].self, forKey: .identifierOnlyRequests) ?? []
        }
    }

    public var kind: SweepKind
    public var dryRun: Bool
    public var startedAt: Date
    public var finishedAt: Date
    public var rules: [Rule]
    /// Orphan sweeps only.
    public var orphans: Orphans? = nil
    /// Restore sweeps only.
    public var restore: Restore? = nil
    /// Retention sweeps: tombstones removed as older than `tombstones.keep` (in a dry
    /// run, that would be).
    public var tombstonesRemoved: Int? = nil

    /// Documents changed (deleted or modified) over every line.
    public var documentsChanged: Int { rules.reduce(0) { $0 + $1.deleted + $1.modified } }
}

/// How far one sweep rule has got: documents written out of those matched.
public struct SweepProgress: Sendable, Hashable {
    /// The rule, with its counts as they were before it started.
    public var rule: SweepReport.Rule
    public var done: Int
    public var total: Int

    public init(rule: SweepReport.Rule, done: Int, total: Int) {
        self.rule = rule
        self.done = done
        self.total = total
    }
}
