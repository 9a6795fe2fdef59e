import Foundation

/// Proof of one finished request: what each rule did, under which policy, verified.
/// Holds the user's keyed pseudonym and never a raw id, identity or email.
public struct Receipt: Sendable, Hashable, Codable {
    public struct Rule: Sendable, Hashable, Codable {
        public var policy: String
        public var ruleIndex: Int
        public var namespace: String
        public var action: ActionKind
        public var matched: Int
        public var deleted: Int
        /// Anonymized documents, or documents the user was pulled from.
        public var modified: Int
        public var retained: Int
        public var retainReason: String?
        public var retainedUntil: Date?
        /// Keyed digests of the documents kept (never their ids): a period report
        /// counts a document kept for several requests once.
        public var retainedKeys: [String]?
        public var verification: Verification
        public var remaining: Int?
    }

    /// How many values a lookup found for the request (never the values).
    public struct Lookup: Sendable, Hashable, Codable {
        public var policy: String
        public var lookup: String
        public var values: Int

        public init(policy: String, lookup: String, values: Int) {
            self.policy = policy
            self.lookup = lookup
            self.values = values
        }
    }

    public var requestId: String
    public var subjectPseudonym: String
    public var source: Channel
    public var outcome: Outcome
    public var receivedAt: Date
    public var startedAt: Date?
    public var finishedAt: Date
    public var dueAt: Date?
    public var policies: [PolicyReference]
    public var rules: [Rule]
    /// The lookups the request resolved, with their counts; nil when its policies have none.
    public var lookups: [Lookup]?
    public var letheVersion: String
    public var note: String?

    /// `lookups`: what the request resolved, read before `conclude` lets its subject go.
    public init(request: ErasureRequest, finishedAt: Date, lookups resolved: [StoredLookupValues] = []) {
        requestId = request.id
        subjectPseudonym = request.subjectPseudonym
        source = request.source
        outcome = request.state == .done ? .completed : .failed
        receivedAt = request.receivedAt
        startedAt = request.startedAt
        self.finishedAt = finishedAt
        dueAt = request.dueAt
        policies = request.policies
        letheVersion = LetheVersion.current
        note = request.note
        lookups = resolved.isEmpty ? nil : resolved.map { Lookup(policy: $0.policy, lookup: $0.lookup, values: $0.count) }
        rules = request.rules.map { progress in
            Rule(
                policy: progress.policy, ruleIndex: progress.ruleIndex, namespace: progress.namespace,
                action: progress.action, matched: progress.matched, deleted: progress.deleted,
                modified: progress.modified, retained: progress.retained, retainReason: progress.retainReason,
                retainedUntil: progress.retainedUntil, retainedKeys: progress.retainedKeys,
                verification: progress.verification, remaining: progress.remaining
            )
        }
    }
}

extension Receipt.Rule {
    public var counts: RuleCounts { RuleCounts(matched: matched, deleted: deleted, modified: modified, retained: retained) }
}
