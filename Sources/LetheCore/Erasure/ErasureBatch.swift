import BSON
import Foundation

/// One request of a batch, with everything that belongs to it while the batch runs.
struct BatchMember: Sendable {
    var request: ErasureRequest
    let subject: ErasureSubject
    /// Per policy (in policy order), the values of each match source: `user` (the
    /// subject's ids typed as the policy says), its identifiers, and its lookups once
    /// resolved.
    var sources: [[String: [BSON]]]
    /// The user's keyed token (for `pseudonymize`), when a key is configured.
    let token: String?

    var id: String { request.id }

    /// The values `rule` matches for this member: the union of its `using` sources.
    func ids(for rule: PolicyRule) -> [BSON] { MatchSource.values(of: rule.rule.using, in: sources[rule.policyIndex]) }

    /// Whether `rule` still has to run for this request.
    func isPending(_ rule: PolicyRule) -> Bool { request.rules[rule.position].stage == .pending }
}

/// What one rule covers for one request.
struct RuleCount: Sendable, Hashable {
    var documents = 0
    /// With `until`: the latest date `then` falls due.
    var dueAt: Date?
    /// For `retain`: the keys of the documents kept (`SubjectPseudonymizer.documentKey`),
    /// at most `RuleProgress.retainedKeyLimit`.
    var keys: Set<String> = []

    mutating func add(_ other: RuleCount) {
        documents += other.documents
        if let due = other.dueAt, due > (dueAt ?? .distantPast) { dueAt = due }
        for key in other.keys where keys.count < RuleProgress.retainedKeyLimit { keys.insert(key) }
    }
}


/// The requests a batch claimed, as the pipeline moves them along.
struct ErasureBatch: Sendable {
    /// The claimed requests' ids, in claim order: the order results come back in.
    let order: [String]
    /// Requests going ahead to the writes.
    var members: [BatchMember] = []
    /// Requests that stop before any write: held, over the guard rail, unusable,
    /// already done, or finished by an interrupted run that wrote their receipt.
    var settled: [Settled] = []
    /// Checkpoints of earlier, interrupted runs of these requests.
    var earlier: [BatchCheckpoint] = []
    var checkpoint: BatchCheckpoint
    /// Per rule (by position), the documents counted per request before writing.
    var counted: [[String: RuleCount]] = []
    /// The requests whose lookups were read in this batch (not restored): their values
    /// are saved before any rule runs, or dropped if the request stops before that.
    var lookupsResolvedHere: Set<String> = []

    init(claimed: [ErasureRequest], at date: Date) {
        order = claimed.map(\.id)
        checkpoint = BatchCheckpoint(requestIds: [], startedAt: date)
    }

    /// A request that goes no further in this batch.
    struct Settled: Sendable {
        var request: ErasureRequest
        /// The state it was claimed in: only a change of state is audited.
        let claimedAs: ErasureRequest.State
        /// Its outcome was recorded already (receipt and audit, by an interrupted
        /// finish): it is saved, and nothing is recorded again.
        var recorded = false

        /// Whether the batch saves it: open, or changed here.
        var needsSaving: Bool { request.isOpen || request.state != claimedAs }
    }

    /// Every request, in claim order.
    var requests: [ErasureRequest] {
        var byId: [String: ErasureRequest] = [:]
        for entry in settled { byId[entry.request.id] = entry.request }
        for member in members { byId[member.id] = member.request }
        return order.compactMap { byId[$0] }
    }

    /// Moves the member at `index` to the settled requests.
    mutating func settle(memberAt index: Int, claimedAs state: ErasureRequest.State) {
        let member = members.remove(at: index)
        settled.append(Settled(request: member.request, claimedAs: state))
    }
}
