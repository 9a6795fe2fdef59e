import BSON
import Foundation
import LetheCore

/// Lethe's own records in memory, with the queue's lease fencing: the pipeline's paths
/// (holds, approval, failure, retry, resume, a lease lost) run against it in unit
/// tests. `crashAfterCheckpoints` makes it act as a process that died after that many
/// checkpoints (it throws `LeaseLost`, the one error the pipeline does not record).
public actor InMemoryStateStore: RequestQueue, RecordStore, HoldStore, RetainedLedger, CheckpointStore,
    OrphanCandidateStore, SubjectKeySource, LeaseRegistry, TombstoneStore {
    public private(set) var requests: [String: ErasureRequest] = [:]
    public private(set) var receipts: [String: Receipt] = [:]
    public private(set) var audit: [AuditEntry] = []
    public private(set) var refusals: [IntakeRefusal] = []
    public private(set) var sweeps: [SweepReport] = []
    public private(set) var ledger: [RetainedDocument] = []
    public private(set) var checkpointsById: [String: BatchCheckpoint] = [:]
    /// What each claim was told to exclude, in order.
    public private(set) var claimExclusions: [[String]] = []
    private var holdList: [LegalHold] = []
    private var candidates: [String: Date] = [:]
    private var checkpointsSaved = 0
    public var crashAfterCheckpoints: Int?
    /// Acts as a process that died in the finish, after receipts and audit, before the
    /// requests were saved (once).
    public var crashOnFinalSave = false
    /// Acts as a process that died in the finish right after recording tombstones,
    /// before receipts (once).
    public var crashAfterTombstones = false
    /// Tombstones by `key|requestId`, as the MongoDB store's `_id`.
    public private(set) var tombstonesById: [String: Tombstone] = [:]
    /// How many tombstones were handed to `recordTombstones`, repeats included.
    public private(set) var tombstonesRecorded = 0
    private let key = try! SecretKey(text: String(repeating: "5a", count: 32))

    public init() {}

    public func setCrashOnFinalSave() { crashOnFinalSave = true }
    public func setCrashAfterTombstones() { crashAfterTombstones = true }

    public func setCrash(afterCheckpoints: Int?) {
        crashAfterCheckpoints = afterCheckpoints
        checkpointsSaved = 0
    }

    /// Another worker takes the request's lease (as after this worker's expired).
    public func takeOver(_ requestId: String, by owner: String) {
        requests[requestId]?.lease = Lease(owner: owner, expiresAt: Date().addingTimeInterval(600))
    }

    public func auditTrail(requestId: String) -> [AuditEntry] { audit.filter { $0.requestId == requestId } }

    // MARK: SubjectKeySource

    public func subjectKey() async throws -> SecretKey { key }

    // MARK: RequestQueue

    public func requests(ids: [String]) async throws -> [String: ErasureRequest] {
        requests.filter { ids.contains($0.key) }
    }

    public func requests(dedupeKeys: [String]) async throws -> [String: ErasureRequest] {
        var found: [String: ErasureRequest] = [:]
        for request in requests.values { if let key = request.dedupeKey, dedupeKeys.contains(key) { found[key] = request } }
        return found
    }

    public func openRequests(subjectPseudonyms: [String]) async throws -> [String: ErasureRequest] {
        var found: [String: ErasureRequest] = [:]
        for request in requests.values.sorted(by: { $0.receivedAt < $1.receivedAt })
        where request.isOpen && subjectPseudonyms.contains(request.subjectPseudonym) {
            found[request.subjectPseudonym] = request
        }
        return found
    }

    public func insertAll(_ batch: [ErasureRequest]) async throws -> Set<String> {
        var collided = Set<String>()
        let known = Set(requests.values.compactMap(\.dedupeKey))
        for request in batch {
            if let key = request.dedupeKey, known.contains(key) { collided.insert(key); continue }
            requests[request.id] = request
        }
        return collided
    }

    public func claimBatch(_ lease: Lease, limit: Int, excluding: [String], among: [String]?, now: Date) async throws -> [ErasureRequest] {
        claimExclusions.append(excluding)
        let ready = requests.values
            .filter { $0.state.isClaimable && !excluding.contains($0.id) && ($0.lease.map { $0.expiresAt <= now } ?? true) }
            .filter { among?.contains($0.id) ?? true }
            .sorted { ($0.receivedAt, $0.id) < ($1.receivedAt, $1.id) }
            .prefix(limit)
        return ready.map { request in
            requests[request.id]?.lease = lease
            return requests[request.id]!
        }
    }

    private func checkHeld(_ ids: [String], by owner: String) throws {
        if let lost = ids.first(where: { requests[$0]?.lease?.owner != owner }) { throw LeaseLost(requestId: lost) }
    }

    public func markStarted(requestIds: [String], lease: Lease?) async throws {
        if let lease { try checkHeld(requestIds, by: lease.owner) }
        for id in requestIds {
            guard var request = requests[id] else { continue }
            // As the MongoDB store's `$set`: whatever the stored state, now running.
            switch request.state {
            case .held: try request.take(.holdLifted)
            case .failed: try request.take(.retry)
            case .needsApproval: try request.take(.approved)
            default: break
            }
            if request.state != .running { try request.take(.start) }
            request.attempts += 1
            request.note = nil
            if let lease { request.lease = lease }
            requests[id] = request
        }
    }

    public func renewLeases(requestIds: [String], to lease: Lease) async throws {
        try checkHeld(requestIds, by: lease.owner)
        for id in requestIds { requests[id]?.lease = lease }
    }

    public func saveAll(_ batch: [ErasureRequest], releasingLeases: Bool) async throws {
        if releasingLeases, crashOnFinalSave {
            crashOnFinalSave = false
            throw LeaseLost(requestId: batch.first?.id ?? "")
        }
        for request in batch {
            if let lease = request.lease, requests[request.id]?.lease?.owner != lease.owner { throw LeaseLost(requestId: request.id) }
        }
        for var request in batch {
            if releasingLeases { request.lease = nil }
            requests[request.id] = request
        }
    }

    public func releaseAll(requestIds: [String]?, owner: String) async throws {
        for id in requestIds ?? Array(requests.keys) where requests[id]?.lease?.owner == owner { requests[id]?.lease = nil }
    }

    // MARK: LeaseRegistry

    public func leaseHolders(now: Date) async throws -> [String: Int] {
        var holders: [String: Int] = [:]
        for request in requests.values { if let lease = request.lease, lease.expiresAt > now { holders[lease.owner, default: 0] += 1 } }
        return holders
    }

    // MARK: RecordStore

    public func saveReceipts(_ batch: [Receipt]) async throws { for receipt in batch { receipts[receipt.requestId] = receipt } }
    public func receipt(requestId: String) async throws -> Receipt? { receipts[requestId] }
    public func appendAudit(_ entries: [AuditEntry]) async throws { audit += entries }
    public func saveRefusals(_ batch: [IntakeRefusal]) async throws { refusals += batch }
    public func saveSweep(_ sweep: SweepReport) async throws { sweeps.append(sweep) }

    // MARK: HoldStore

    public func holds(among pseudonyms: [String]) async throws -> [String: String] {
        var found: [String: String] = [:]
        for hold in holdList where pseudonyms.contains(hold.subjectPseudonym) && found[hold.subjectPseudonym] == nil {
            found[hold.subjectPseudonym] = hold.id
        }
        return found
    }
    public func addHold(_ hold: LegalHold) async throws { holdList.append(hold) }
    public func holds() async throws -> [LegalHold] { holdList }
    public func removeHold(id: String) async throws -> Bool {
        let before = holdList.count
        holdList.removeAll { $0.id == id }
        return holdList.count < before
    }

    // MARK: RetainedLedger

    public func recordRetained(_ entries: [RetainedDocument]) async throws {
        for entry in entries {
            var stored = entry
            stored.ledgerId = .string("\(entry.requestId)|\(entry.documentId)")
            if !ledger.contains(where: { $0.ledgerId == stored.ledgerId }) { ledger.append(stored) }
        }
    }
    public func dueRetained(at date: Date, limit: Int) async throws -> [RetainedDocument] {
        Array(ledger.filter { $0.dueAt <= date }.sorted { $0.dueAt < $1.dueAt }.prefix(limit))
    }
    public func forgetRetained(_ entries: [RetainedDocument]) async throws {
        let ids = Set(entries.compactMap(\.ledgerId))
        ledger.removeAll { $0.ledgerId.map(ids.contains) ?? false }
    }

    // MARK: CheckpointStore

    public func saveCheckpoint(_ checkpoint: BatchCheckpoint) async throws {
        checkpointsById[checkpoint.id] = checkpoint
        checkpointsSaved += 1
        if let crashAfterCheckpoints, checkpointsSaved >= crashAfterCheckpoints { throw LeaseLost(requestId: checkpoint.requestIds.first ?? "") }
    }
    public func checkpoints(requestIds: [String]) async throws -> [BatchCheckpoint] {
        checkpointsById.values.filter { !Set($0.requestIds).isDisjoint(with: requestIds) }.sorted { $0.id < $1.id }
    }
    public func removeCheckpoint(id: String) async throws { checkpointsById[id] = nil }

    // MARK: OrphanCandidateStore

    public func orphanCandidates(subjectPseudonyms: [String]) async throws -> [String: Date] {
        candidates.filter { subjectPseudonyms.contains($0.key) }
    }
    public func recordOrphanCandidates(_ subjectPseudonyms: [String], at date: Date) async throws {
        candidates = candidates.filter { subjectPseudonyms.contains($0.key) }
        for pseudonym in subjectPseudonyms where candidates[pseudonym] == nil { candidates[pseudonym] = date }
    }

    // MARK: TombstoneStore

    public func recordTombstones(_ tombstones: [Tombstone]) async throws {
        tombstonesRecorded += tombstones.count
        for tombstone in tombstones where tombstonesById["\(tombstone.key)|\(tombstone.requestId)"] == nil {
            tombstonesById["\(tombstone.key)|\(tombstone.requestId)"] = tombstone
        }
        if crashAfterTombstones {
            crashAfterTombstones = false
            throw LeaseLost(requestId: tombstones.first?.requestId ?? "")
        }
    }
    public func tombstones(keys: [String]) async throws -> [String: Tombstone] {
        let wanted = Set(keys)
        var latest: [String: Tombstone] = [:]
        for tombstone in tombstonesById.values where wanted.contains(tombstone.key) {
            if let known = latest[tombstone.key], known.erasedAt >= tombstone.erasedAt { continue }
            latest[tombstone.key] = tombstone
        }
        return latest
    }
    public func removeTombstones(erasedBefore date: Date) async throws -> Int {
        let old = tombstonesById.filter { $0.value.erasedAt < date }
        for id in old.keys { tombstonesById[id] = nil }
        return old.count
    }
    public func countTombstones(erasedBefore date: Date) async throws -> Int {
        tombstonesById.values.filter { $0.erasedAt < date }.count
    }
    /// Backdates every tombstone by `interval` (as if they were recorded that long ago).
    public func ageTombstones(by interval: TimeInterval) {
        tombstonesById = tombstonesById.mapValues { var old = $0; old.erasedAt -= interval; return old }
    }
}
