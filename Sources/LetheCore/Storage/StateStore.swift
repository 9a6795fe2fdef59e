import BSON
import Foundation

/// Where Lethe keeps its own records (the state database, `lethe` by default):
/// requests and their progress, receipts, legal holds, and its pseudonym key.
public protocol StateStore: Sendable {
    /// The key for subject pseudonyms: created once, then always the same.
    func subjectKey() async throws -> SecretKey
    func request(id: String) async throws -> ErasureRequest?
    /// Replaces the stored request with this one (progress, state).
    func save(_ request: ErasureRequest) async throws
    func saveReceipt(_ receipt: Receipt) async throws
    func receipt(requestId: String) async throws -> Receipt?
    func activeHold(subjectPseudonym: String) async throws -> LegalHold?
    func addHold(_ hold: LegalHold) async throws
    func holds() async throws -> [LegalHold]
    /// Removes a hold by id; false when there was none.
    func removeHold(id: String) async throws -> Bool

    // MARK: Queue

    /// Records an event refused at intake (no personal data in it).
    func saveRefusal(_ refusal: IntakeRefusal) async throws
    func saveRefusals(_ refusals: [IntakeRefusal]) async throws
    /// Records documents kept by a `retain` rule until `then` falls due.
    func recordRetained(_ entries: [RetainedDocument]) async throws
    /// Retained documents whose `then` is due at `date`, oldest first.
    func dueRetained(at date: Date, limit: Int) async throws -> [RetainedDocument]
    /// Removes entries whose `then` has been applied.
    func forgetRetained(_ entries: [RetainedDocument]) async throws
    /// Appends to the audit trail (never changes or removes an entry).
    func appendAudit(_ entries: [AuditEntry]) async throws
    /// Records a finished sweep, for the period reports.
    func saveSweep(_ sweep: SweepReport) async throws

    // MARK: Batches (one command for many requests)

    /// Saves several requests in one round trip (fenced by lease like `save`); with
    /// `releasingLeases`, the saved requests are no longer leased (the batch is over).
    func saveAll(_ requests: [ErasureRequest], releasingLeases: Bool) async throws
    /// Marks these requests running (one more attempt, no note) in one command; with
    /// `lease`, only while `lease.owner` holds them, and extended to its expiry.
    func markStarted(requestIds: [String], lease: Lease?) async throws
    /// Records a batch's progress after a rule (one small document for the batch).
    func saveCheckpoint(_ checkpoint: BatchCheckpoint) async throws
    /// Checkpoints of unfinished batches that hold any of these requests.
    func checkpoints(requestIds: [String]) async throws -> [BatchCheckpoint]
    func removeCheckpoint(id: String) async throws
    /// Extends `owner`'s leases on these requests; throws `LeaseLost` when another
    /// worker took any of them over.
    func renewLeases(requestIds: [String], owner: String, until expiry: Date) async throws
    func saveReceipts(_ receipts: [Receipt]) async throws
    /// Which of these pseudonyms have a legal hold.
    func heldSubjects(among pseudonyms: [String]) async throws -> Set<String>
    /// Leases up to `limit` requests that are ready to run (received, held, or running
    /// with an expired lease), oldest first, skipping `excluding`; empty when none is.
    func claimBatch(owner: String, until expiry: Date, limit: Int, excluding: [String], now: Date) async throws -> [ErasureRequest]
    /// Requests recorded for any of these event keys, by key.
    func requests(dedupeKeys: [String]) async throws -> [String: ErasureRequest]
    /// The unfinished request of each of these users that has one, by pseudonym.
    func openRequests(subjectPseudonyms: [String]) async throws -> [String: ErasureRequest]
    /// Inserts new requests in one round trip; returns the dedupe keys that another
    /// worker recorded first (those requests were not inserted).
    func insertAll(_ requests: [ErasureRequest]) async throws -> Set<String>
    /// Gives back every lease `owner` still holds on these requests.
    func releaseAll(requestIds: [String], owner: String) async throws

    // MARK: Orphan sweep

    /// When each of these users was first seen orphaned, for those seen before, by
    /// pseudonym. The orphan sweep's grace period counts from there.
    func orphanCandidates(subjectPseudonyms: [String]) async throws -> [String: Date]
    /// Records these users as seen orphaned at `date` (a user's first sighting is
    /// kept) and forgets every other candidate: one that is no longer orphaned (a new
    /// user whose users document has since been written) starts again from nothing.
    func recordOrphanCandidates(_ subjectPseudonyms: [String], at date: Date) async throws
}

extension StateStore {
    public func saveAll(_ requests: [ErasureRequest]) async throws {
        try await saveAll(requests, releasingLeases: false)
    }
}

/// Thrown by `StateStore.save` when another worker took the request's lease.
public struct LeaseLost: Error, Sendable, CustomStringConvertible {
    public let requestId: String
    public init(requestId: String) { self.requestId = requestId }
    public var description: String { "the lease on \(requestId) was taken over by another worker; it continues the request" }
}

/// An event refused at intake: when, through which channel, and why. Never the event.
public struct IntakeRefusal: Sendable, Hashable, Codable {
    public var id: String
    public var at: Date
    /// `inbox`, `http`, `cli`.
    public var channel: String
    /// A stable code (`not-plain-id`, `missing-field`...).
    public var code: String
    public var field: String?
    public var message: String

    public init(at: Date, channel: String, code: String, field: String?, message: String) {
        self.id = "ref_" + randomHex(bytes: 6)
        self.at = at
        self.channel = channel
        self.code = code
        self.field = field
        self.message = message
    }
}
