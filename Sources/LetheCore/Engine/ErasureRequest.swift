import BSON
import Foundation

/// A policy as a request or receipt refers to it.
public struct PolicyReference: Sendable, Hashable, Codable {
    public var name: String
    public var fingerprint: String

    public init(name: String, fingerprint: String) {
        self.name = name
        self.fingerprint = fingerprint
    }
}

/// The progress and outcome of one rule within one request.
public struct RuleProgress: Sendable, Hashable, Codable {
    public enum Stage: String, Sendable, Codable {
        /// Not started, or interrupted: run it (again). Every action is idempotent.
        case pending
        /// Its writes are done; verification comes after the last rule.
        case applied
        case verified
        case verificationFailed = "verification-failed"
    }

    public var policy: String
    public var ruleIndex: Int
    /// `database.collection`.
    public var namespace: String
    public var action: ActionKind
    public var stage: Stage
    /// Documents the rule matched when planned.
    public var matched: Int
    /// Documents the rule would change when planned (for the approval guard rail).
    public var planned: Int
    public var deleted: Int
    /// Documents anonymized (`anonymize`) or with the user pulled from an array (`pull`).
    public var modified: Int
    public var retained: Int
    public var retainReason: String?
    /// With `until`: when the latest retained document's `then` falls due.
    public var retainedUntil: Date?
    /// For `retain`: the keys of the documents kept (`SubjectPseudonymizer.documentKey`),
    /// so that a report counts a document kept for several users once. At most
    /// `retainedKeyLimit`; past it, the documents beyond are counted per request.
    public var retainedKeys: [String]?
    /// Documents still matching after the rule ran (verification).
    public var remaining: Int?

    public init(policy: String, ruleIndex: Int, namespace: String, action: ActionKind) {
        self.policy = policy
        self.ruleIndex = ruleIndex
        self.namespace = namespace
        self.action = action
        self.stage = .pending
        self.matched = 0
        self.planned = 0
        self.deleted = 0
        self.modified = 0
        self.retained = 0
    }
}

extension RuleProgress {
    /// Keys kept per rule and request: 10,000 of 16 hex digits, about 200 KB in a receipt.
    public static let retainedKeyLimit = 10_000

    public var counts: RuleCounts { RuleCounts(matched: matched, deleted: deleted, modified: modified, retained: retained) }

    /// The verification a receipt states for this rule.
    public var verification: Verification {
        switch stage {
        case .verified: action.keepsDocuments ? .notApplicable : .passed
        case .verificationFailed: .failed
        case .pending, .applied: .notRun
        }
    }
}

/// One erasure request: the unit that is recorded, resumed, held, approved and receipted.
public struct ErasureRequest: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable, CaseIterable {
        /// Recorded; nothing done yet (or a hold was lifted).
        case received
        /// A legal hold covers the user: nothing changes until it is lifted.
        case held
        /// It would change more documents than allowed: waits for `lethe approve`.
        case needsApproval = "needs-approval"
        case running
        case done
        case failed

        public var isFinished: Bool { self == .done }
        /// Waiting for a worker: a claim takes it when no live lease holds it. Failed
        /// and over-limit requests wait for a person (`retry`, `approve`) instead.
        public var isClaimable: Bool { self == .received || self == .held || self == .running }
    }

    public var id: String
    /// The keyed pseudonym of the user: what links this request to its receipt and holds.
    public var subjectPseudonym: String
    /// The raw ids, kept only while the request is open (it cannot be resumed without
    /// them) and removed when it is done.
    public var subject: StoredSubject?
    /// Where the request came from.
    public var source: Channel
    /// The operator's reason (`erase --reason`): free text, so it may hold personal
    /// data by accident; kept while the request is open, removed when it is done.
    public var reason: String?
    /// Changed only through `take(_:note:)`, which follows `RequestLifecycle` (tests of
    /// this module may set it to build fixtures).
    public internal(set) var state: State
    public var approved: Bool
    public var receivedAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    /// When the request must be done by, from the strictest policy deadline.
    public var dueAt: Date?
    public var policies: [PolicyReference]
    public var rules: [RuleProgress]
    /// Why it failed, held or waits; never holds personal data.
    public var note: String?
    public var attempts: Int
    /// The event it came from (inbox, HTTP, enqueue): the same event twice is one request.
    public var dedupeKey: String?
    /// Which worker holds it, and until when; nil when nobody does.
    public var lease: Lease?

    public init(id: String, subjectPseudonym: String, subject: ErasureSubject, source: Channel,
                reason: String?, receivedAt: Date, dueAt: Date?, policies: [PolicyReference]) {
        self.id = id
        self.subjectPseudonym = subjectPseudonym
        self.subject = StoredSubject(subject)
        self.source = source
        self.reason = reason
        self.state = .received
        self.approved = false
        self.receivedAt = receivedAt
        self.dueAt = dueAt
        self.policies = policies
        self.rules = []
        self.attempts = 0
    }

    /// Moves the request to the state `event` leads to, with `note` as its note (nil
    /// clears it). Throws, changing nothing, when the lifecycle has no such step.
    public mutating func take(_ event: RequestLifecycle.Event, note: String? = nil) throws(RequestLifecycle.InvalidTransition) {
        state = try RequestLifecycle.next(state, on: event)
        self.note = note
        if event == .retry {
            // A retry runs again what did not verify: the data may have been fixed.
            for index in rules.indices where rules[index].stage == .verificationFailed {
                rules[index].stage = .pending
                rules[index].remaining = nil
            }
        }
    }

    /// Whether the request still waits for work or for a person.
    public var isOpen: Bool { state != .done }

    /// A new request id: time-ordered, random, and free of personal data.
    public static func newID(at date: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss"
        let random = randomHex(bytes: 6)
        return "req_\(formatter.string(from: date))_\(random)"
    }
}

/// A worker's claim on a request. The expiry is epoch milliseconds, not a date, so that
/// it compares the same on every server (see docs/test-server.md).
public struct Lease: Sendable, Hashable, Codable {
    public var owner: String
    public var expiresAtMilliseconds: Int64

    public init(owner: String, expiresAt: Date) {
        self.owner = owner
        self.expiresAtMilliseconds = Int64((expiresAt.timeIntervalSince1970 * 1000).rounded())
    }

    public var expiresAt: Date { Date(timeIntervalSince1970: Double(expiresAtMilliseconds) / 1000) }
}

/// `ErasureSubject` as stored in an open request, with the values its lookups found.
/// All of it is personal data: kept while the request is open, removed when it is done.
public struct StoredSubject: Sendable, Hashable, Codable {
    /// Nil for a request known only by identifiers.
    public var userId: String?
    public var identities: [String]
    /// Identifier name → value (`email` → the address); nil when none were given.
    public var identifiers: [String: String]?
    /// The values each lookup found, resolved once before any rule ran and kept so
    /// that a rerun after the source documents are gone matches the same values. Nil
    /// until resolved (and for policies without lookups).
    public var lookups: [StoredLookupValues]?

    public init(_ subject: ErasureSubject) {
        userId = subject.userId
        identities = subject.identities
        identifiers = subject.identifiers.isEmpty ? nil : subject.identifiers
    }

    public var subject: ErasureSubject { ErasureSubject(userId: userId, identities: identities, identifiers: identifiers ?? [:]) }

    /// The stored values of `lookup` in `policy`, if resolved.
    public func lookupValues(policy: String, lookup: String) -> [BSON]? {
        lookups?.first { $0.policy == policy && $0.lookup == lookup }?.values ?? nil
    }
}

/// The values one lookup of one policy found for a request. They are kept as one BSON
/// document (`{v: [...]}`) so that each keeps its stored type (an ObjectId stays an
/// ObjectId, an int64 an int64) through any record store.
public struct StoredLookupValues: Sendable, Hashable, Codable {
    public var policy: String
    public var lookup: String
    /// How many values: for receipts and reports, which count them and never list them.
    public var count: Int
    /// `{v: [values]}` as BSON bytes.
    public var bson: Data

    public init(policy: String, lookup: String, values: [BSON]) {
        self.policy = policy
        self.lookup = lookup
        count = values.count
        bson = Data(BSONDocument([("v", .array(values))]).bsonBytes)
    }

    /// The values, each with its BSON type; nil if the bytes are damaged (the lookup
    /// is then read again rather than taken as empty).
    public var values: [BSON]? {
        (try? BSONDocument(bsonBytes: Array(bson)))?["v"]?.arrayValue
    }
}

/// The lifecycle of a request: which state follows which event. A value type with no
/// I/O, so every transition is tested on its own.
public struct RequestLifecycle: Sendable {
    public enum Event: Sendable, Hashable {
        case holdFound
        case holdLifted
        case overLimit
        case approved
        case start
        case finish
        case fail
        case retry
    }

    public struct InvalidTransition: Error, Sendable, Hashable, CustomStringConvertible {
        public let from: ErasureRequest.State
        public let event: Event
        public var description: String { "a request in state '\(from.rawValue)' cannot take '\(event)'" }
    }

    public static func next(_ state: ErasureRequest.State, on event: Event) throws(InvalidTransition) -> ErasureRequest.State {
        switch (state, event) {
        case (.received, .holdFound), (.needsApproval, .holdFound), (.failed, .holdFound), (.running, .holdFound),
             (.held, .holdFound):
            return .held
        case (.held, .holdLifted): return .received
        case (.received, .overLimit), (.needsApproval, .overLimit): return .needsApproval
        case (.needsApproval, .approved): return .received
        case (.received, .approved), (.held, .approved), (.failed, .approved): return state
        case (.received, .start), (.running, .start): return .running
        case (.running, .finish): return .done
        case (.running, .fail), (.received, .fail), (.held, .fail), (.needsApproval, .fail), (.failed, .fail): return .failed
        case (.failed, .retry): return .received
        default: throw InvalidTransition(from: state, event: event)
        }
    }
}
