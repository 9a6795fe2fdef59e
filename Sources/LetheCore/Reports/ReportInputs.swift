import Foundation

/// A policy version as the state database first saw it: a name, the fingerprint of
/// what it did, and when that fingerprint was first in force. A policy's history is
/// its entries in `firstSeen` order; each is in force until the next one.
public struct PolicyHistoryEntry: Sendable, Hashable, Codable {
    public var name: String
    /// `sha256:` and 16 hex digits (see `Policy.fingerprint`).
    public var fingerprint: String
    public var firstSeen: Date

    public init(name: String, fingerprint: String, firstSeen: Date) {
        self.name = name
        self.fingerprint = fingerprint
        self.firstSeen = firstSeen
    }

    public var reference: PolicyReference { PolicyReference(name: name, fingerprint: fingerprint) }
}

/// An event refused at intake, as a report counts it: when, through which channel and
/// why, as a stable code. Never the event, never the message (which may quote it).
public struct RefusedIntake: Sendable, Hashable, Codable {
    public var at: Date
    public var channel: Channel
    /// A stable code: `not-plain-id`, `missing-field`...
    public var reasonCode: String

    public init(at: Date, channel: Channel, reasonCode: String) {
        self.at = at
        self.channel = channel
        self.reasonCode = reasonCode
    }

    /// The counted part of a recorded refusal; its `field` and `message` are dropped.
    public init(_ refusal: IntakeRefusal) {
        self.init(at: refusal.at, channel: refusal.channel, reasonCode: refusal.code)
    }
}

/// One sweep as a report lists it: what kind, when, dry or not, and how many
/// documents it removed (deleted or anonymized) per namespace. Counts only.
public struct SweepSummary: Sendable, Hashable, Codable {
    public var startedAt: Date
    public var finishedAt: Date
    public var kind: SweepKind
    /// A dry run counts and changes nothing; `perNamespace` then holds what it would remove.
    public var dryRun: Bool
    /// `database.collection` to documents removed (or, dry, that would be).
    public var perNamespace: [String: Int]

    public init(startedAt: Date, finishedAt: Date, kind: SweepKind, dryRun: Bool, perNamespace: [String: Int]) {
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.kind = kind
        self.dryRun = dryRun
        self.perNamespace = perNamespace
    }

    /// The summary of a recorded sweep: per namespace, the documents deleted or
    /// anonymized, or for a dry run those that matched (what it would have removed).
    public init(_ sweep: SweepReport) {
        var perNamespace: [String: Int] = [:]
        for rule in sweep.rules {
            perNamespace[rule.namespace, default: 0] += sweep.dryRun ? rule.matched : rule.deleted + rule.modified
        }
        self.init(startedAt: sweep.startedAt, finishedAt: sweep.finishedAt, kind: sweep.kind, dryRun: sweep.dryRun,
                  perNamespace: perNamespace)
    }

    /// Documents over every namespace.
    public var total: Int { perNamespace.values.reduce(0, +) }
}

/// An attempt at a request that ended failed, as the audit trail records it: when, and
/// whether verification failed it. Counts only, never the note.
public struct FailedAttempt: Sendable, Hashable, Codable {
    public var requestId: String
    public var at: Date
    /// Data the rules must change was still there after them.
    public var verification: Bool

    public init(requestId: String, at: Date, verification: Bool) {
        self.requestId = requestId
        self.at = at
        self.verification = verification
    }

    /// The failed attempt a closing audit entry records; nil for any other entry.
    public init?(_ entry: AuditEntry) {
        guard entry.event == .failed, let requestId = entry.requestId else { return nil }
        self.init(requestId: requestId, at: entry.at, verification: (entry.counts?["remaining"] ?? 0) > 0)
    }
}
