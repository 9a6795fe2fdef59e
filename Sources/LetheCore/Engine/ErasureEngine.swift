import BSON
import Foundation
import Logging

/// What every job of Lethe's shares: the stores, the policies, the keys, the options
/// and the clock. The jobs themselves are their own types, each reached from here:
/// `admission` (submit, receive, retry, approve), `legalHolds`, `eraser(lease:)` (the erasure
/// pipeline), `retentionSweeper`, `orphanSweeper` and `restoreSweeper`.
///
/// Every write is idempotent (it targets only documents still needing the action), so
/// a request interrupted at any point and run again ends with the same data as an
/// uninterrupted run, and a finished request run again changes nothing.
public struct ErasureEngine: Sendable {
    public struct Options: Sendable {
        /// Most documents one write command targets; larger sets go in batches of this
        /// size, so no single operation runs long on a busy cluster. Default 5,000.
        public var batchSize: Int
        /// Most documents one write of a retention sweep targets. Such a write is a
        /// range of the date field (`DataStore.forEachWriteWindow`): its command does
        /// not grow with the documents, and MongoDB serves it as an index range scan,
        /// so it can go far beyond `batchSize` while one write still stays a bounded
        /// piece of work. Default 100,000.
        public var sweepBatchSize: Int
        /// Guard rail overriding the policies' `maxDocumentsPerRequest`. Default nil: the
        /// smallest limit among the policies, else `Policy.defaultMaxDocumentsPerRequest`.
        public var maxDocumentsPerRequest: Int?
        /// Attempts for an operation failing with a transient error. Default 4.
        public var maxAttempts: Int
        /// First backoff delay; it doubles per attempt, with jitter. Default 200 ms.
        public var initialBackoff: Duration
        /// Leftover documents looked for at most per rule when verifying. Default 1,000.
        public var verificationLimit: Int

        /// Documents read and rewritten one by one (hashing, the ledger of retained
        /// documents) are held at most this many at a time, whatever `batchSize` says:
        /// memory stays flat however many documents a user has.
        public var streamingBatchSize: Int { min(batchSize, 1_000) }

        public init(batchSize: Int = 5_000, sweepBatchSize: Int = 100_000, maxDocumentsPerRequest: Int? = nil, maxAttempts: Int = 4,
                    initialBackoff: Duration = .milliseconds(200), verificationLimit: Int = 1_000) {
            self.batchSize = batchSize
            self.sweepBatchSize = sweepBatchSize
            self.maxDocumentsPerRequest = maxDocumentsPerRequest
            self.maxAttempts = maxAttempts
            self.initialBackoff = initialBackoff
            self.verificationLimit = verificationLimit
        }
    }

    public let data: any DataStore
    public let state: any StateStore
    public let policies: [Policy]
    /// Needed only by policies that hash or pseudonymize (the loader checks that).
    public let anonymizer: Anonymizer?
    public let options: Options
    let logger: Logger
    let now: @Sendable () -> Date

    public init(data: any DataStore, state: any StateStore, policies: [Policy], anonymizer: Anonymizer?,
                options: Options = Options(), logger: Logger = Logger(label: "lethe.engine"),
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.data = data
        self.state = state
        self.policies = policies
        self.anonymizer = anonymizer
        self.options = options
        self.logger = logger
        self.now = now
    }

    // MARK: Jobs

    public var admission: RequestAdmission { RequestAdmission(engine: self) }
    public var legalHolds: LegalHolds { LegalHolds(engine: self) }
    /// The erasure pipeline; with `lease`, every save is fenced by it and renewed.
    public func eraser(lease: LeaseTerms? = nil) -> Eraser { Eraser(engine: self, lease: lease) }
    public var retentionSweeper: RetentionSweeper { RetentionSweeper(engine: self) }
    public var orphanSweeper: OrphanSweeper { OrphanSweeper(engine: self) }
    public var restoreSweeper: RestoreSweeper { RestoreSweeper(engine: self) }

    // MARK: Rules made concrete

    /// Every rule of every policy with its place in a request's `rules`.
    var policyRules: [PolicyRule] {
        var rules: [PolicyRule] = []
        for (policyIndex, policy) in policies.enumerated() {
            for rule in policy.rules {
                rules.append(PolicyRule(position: rules.count, policyIndex: policyIndex, policy: policy, rule: rule))
            }
        }
        return rules
    }

    /// Every rule of every policy, made concrete for `subject`, its lookups read now.
    /// Throws before anything is read when an id does not fit a policy's `idType`.
    public func statements(for subject: ErasureSubject) async throws -> [RuleStatement] {
        try await dryRunSources(for: subject).statements
    }

    /// The subject's sources with its lookups resolved (read-only), and the statements.
    private func dryRunSources(for subject: ErasureSubject) async throws
        -> (statements: [RuleStatement], lookups: [PlannedLookup]) {
        let token = anonymizer?.token(for: subject)
        var sources = [try bindings(of: subject)]
        let outcome = try await LookupResolver(engine: self).resolve(&sources)
        let lookups = (outcome.resolved[0] ?? []).map { PlannedLookup(policy: $0.policy, lookup: $0.lookup, values: $0.count) }
        let statements = policyRules.map {
            RuleStatement(policy: $0.policy, rule: $0.rule, ids: MatchSource.values(of: $0.rule.using, in: sources[0][$0.policyIndex]), token: token)
        }
        return (statements, lookups)
    }

    /// Per policy (in policy order), the values of each of the subject's match sources
    /// (`user` and the identifiers; lookups are read later). Throws before anything is
    /// read when an id does not fit a policy's `idType`, or an identifier is not one a
    /// policy declares.
    func bindings(of subject: ErasureSubject) throws(EngineError) -> [[String: [BSON]]] {
        try checkIdentifiers(of: subject)
        var bindings: [[String: [BSON]]] = []
        for policy in policies {
            do {
                bindings.append(try SubjectBinding.sources(of: subject, for: policy))
            } catch {
                throw EngineError.invalidSubject(policy: policy.name, error)
            }
        }
        return bindings
    }

    /// The identifier names the policies declare.
    public var declaredIdentifiers: [String] {
        var seen = Set<String>()
        return policies.flatMap(\.subject.identifiers).filter { seen.insert($0).inserted }
    }

    /// A request names the user somehow, and only by identifiers some policy declares.
    private func checkIdentifiers(of subject: ErasureSubject) throws(EngineError) {
        let declared = declaredIdentifiers
        for name in subject.identifiers.keys.sorted() {
            guard MatchSource.isValidName(name) else { throw EngineError.identifierRefused(name: nil, declared: declared) }
            guard declared.contains(name) else { throw EngineError.identifierRefused(name: name, declared: declared) }
        }
        if subject.userId == nil, subject.identifiers.isEmpty { throw EngineError.noSubject }
    }

    /// Whether a request's recorded rules are still the policies' rules.
    func rulesMatch(_ request: ErasureRequest) -> Bool {
        let rules = policyRules
        return rules.count == request.rules.count
            && zip(rules, request.rules).allSatisfy { $0.policy.name == $1.policy && $0.rule.index == $1.ruleIndex }
    }

    /// The limit that applies: the flag's, else the strictest policy's, else the default.
    public var documentLimit: Int {
        options.maxDocumentsPerRequest
            ?? policies.compactMap(\.maxDocumentsPerRequest).min()
            ?? Policy.defaultMaxDocumentsPerRequest
    }

    /// `name@fingerprint` of each policy, as audit entries name them.
    var policyLabels: [String] { policies.map { "\($0.name)@\($0.fingerprint)" } }

    // MARK: Dry run

    /// What a request would do now, read-only: per rule, documents matched and to be
    /// changed. Sends no write command.
    public func plan(_ subject: ErasureSubject) async throws -> [PlannedRule] {
        try await dryRun(subject).rules
    }

    /// What a request would do now, read-only: how many values each lookup finds
    /// (never the values), and per rule, documents matched and to be changed.
    public func dryRun(_ subject: ErasureSubject) async throws -> DryRun {
        let (statements, lookups) = try await dryRunSources(for: subject)
        var planned: [PlannedRule] = []
        for statement in statements {
            let matched = try await retrying { try await data.count(statement.namespace, filter: statement.matchFilter) }
            var toChange = 0
            var retainedUntil: Date?
            if case .none = statement.write {
                retainedUntil = try await latestDueDate(statement)
            } else {
                toChange = try await retrying { try await data.count(statement.namespace, filter: statement.pendingFilter) }
            }
            planned.append(PlannedRule(statement: statement, matched: matched, toChange: toChange, retainedUntil: retainedUntil))
        }
        return DryRun(lookups: lookups, rules: planned)
    }

    /// With `until`: the date on which the latest retained document's `then` falls due.
    private func latestDueDate(_ statement: RuleStatement) async throws -> Date? {
        guard let until = statement.retainUntil else { return nil }
        let latest = try await retrying {
            try await data.first(statement.namespace, filter: statement.matchFilter,
                                 sort: [until.field: -1], projection: [until.field: 1, "_id": 0])
        }
        guard let value = latest?.value(atPath: until.field), case .datetime(let date) = value else { return nil }
        return until.after.added(to: date.date)
    }

    // MARK: Retries

    func retrying<T: Sendable>(_ operation: () async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await operation()
            } catch let error as any TransientFailure where error.isTransient && attempt < options.maxAttempts {
                let base = options.initialBackoff * (1 << (attempt - 1))
                let jitter = Double.random(in: 0.5...1.5)
                logger.warning("transient error, retrying", metadata: [LogKey.attempt: .stringConvertible(attempt), LogKey.reason: .string("\(error)")])
                try await Task.sleep(for: base * jitter)
                attempt += 1
            }
        }
    }
}

/// A rule with its policy, and its place in every request's `rules`.
struct PolicyRule: Sendable {
    /// Position in a request's `rules` (every rule of every policy, in order).
    let position: Int
    /// Position of the policy in the engine's `policies`.
    let policyIndex: Int
    let policy: Policy
    let rule: ErasureRule

    var namespace: Namespace { Namespace(database: policy.database, collection: rule.collection) }
}

/// What a request would do now: its lookups' counts and its rules.
public struct DryRun: Sendable {
    public let lookups: [PlannedLookup]
    public let rules: [PlannedRule]
}

/// How many values one lookup finds now (never the values: they are personal data).
public struct PlannedLookup: Sendable, Hashable {
    public let policy: String
    public let lookup: String
    public let values: Int
}

/// A dry-run line: what one rule would do now.
public struct PlannedRule: Sendable {
    public let statement: RuleStatement
    public let matched: Int
    public let toChange: Int
    public let retainedUntil: Date?
}

public enum EngineError: Error, Sendable, CustomStringConvertible {
    case invalidSubject(policy: String, SubjectError)
    case unknownRequest(String)
    case cannotApprove(String, ErasureRequest.State)
    case subjectMissing(String)
    case keyMissing(policy: String)
    case cannotRetry(String, ErasureRequest.State)
    case retainedNotForgotten(Int)
    /// An identifier the policies do not declare; `name` is nil when it is not even a
    /// plain name (it is then not repeated: it may be a value put in the wrong place).
    case identifierRefused(name: String?, declared: [String])
    /// Neither a user id nor an identifier.
    case noSubject

    public var description: String {
        switch self {
        case .invalidSubject(let policy, let error):
            "\(error) (policy \(policy)); nothing was changed"
        case .unknownRequest(let id):
            "no request \(id) in the state database; `lethe requests` lists them"
        case .cannotApprove(let id, let state):
            "request \(id) is \(state.rawValue); only a request waiting for approval can be approved"
        case .subjectMissing(let id):
            "request \(id) no longer holds the user's ids (they are removed when a request finishes); submit a new request"
        case .retainedNotForgotten(let count):
            "\(count) retained document(s) whose `then` was applied could not be removed from the ledger (lethe.retainedGroups); the sweep stopped so as not to apply it twice"
        case .cannotRetry(let id, let state):
            "request \(id) is \(state.rawValue); only a failed request can be retried"
        case .identifierRefused(let name, let declared):
            (name.map { "identifier '\($0)' is not declared by any policy" } ?? "an identifier name is not a plain name (a letter, then letters, digits or '_')")
                + (declared.isEmpty ? "; no policy declares identifiers (subject.identifiers)" : "; declared: " + declared.joined(separator: ", "))
                + "; nothing was recorded"
        case .noSubject:
            "the request names no user: give a user id, an identifier the policies declare, or both; nothing was recorded"
        case .keyMissing(let policy):
            "policy \(policy) hashes values but no key is configured: set LETHE_HASH_KEY"
        }
    }
}
