import Foundation

/// A state store that adds behaviour to another (a decorator): everything it does not
/// implement itself goes to `base`.
public protocol ForwardingStateStore: StateStore {
    var base: any StateStore { get }
}

extension ForwardingStateStore {
    public func subjectKey() async throws -> SecretKey { try await base.subjectKey() }
    public func request(id: String) async throws -> ErasureRequest? { try await base.request(id: id) }
    public func save(_ request: ErasureRequest) async throws { try await base.save(request) }
    public func saveReceipt(_ receipt: Receipt) async throws { try await base.saveReceipt(receipt) }
    public func receipt(requestId: String) async throws -> Receipt? { try await base.receipt(requestId: requestId) }
    public func activeHold(subjectPseudonym: String) async throws -> LegalHold? { try await base.activeHold(subjectPseudonym: subjectPseudonym) }
    public func addHold(_ hold: LegalHold) async throws { try await base.addHold(hold) }
    public func holds() async throws -> [LegalHold] { try await base.holds() }
    public func removeHold(id: String) async throws -> Bool { try await base.removeHold(id: id) }
    public func saveRefusal(_ refusal: IntakeRefusal) async throws { try await base.saveRefusal(refusal) }
    public func saveRefusals(_ refusals: [IntakeRefusal]) async throws { try await base.saveRefusals(refusals) }
    public func recordRetained(_ entries: [RetainedDocument]) async throws { try await base.recordRetained(entries) }
    public func dueRetained(at date: Date, limit: Int) async throws -> [RetainedDocument] { try await base.dueRetained(at: date, limit: limit) }
    public func forgetRetained(_ entries: [RetainedDocument]) async throws { try await base.forgetRetained(entries) }
    public func appendAudit(_ entries: [AuditEntry]) async throws { try await base.appendAudit(entries) }
    public func saveSweep(_ sweep: SweepReport) async throws { try await base.saveSweep(sweep) }
    public func saveAll(_ requests: [ErasureRequest], releasingLeases: Bool) async throws {
        try await base.saveAll(requests, releasingLeases: releasingLeases)
    }
    public func markStarted(requestIds: [String], lease: Lease?) async throws { try await base.markStarted(requestIds: requestIds, lease: lease) }
    public func saveCheckpoint(_ checkpoint: BatchCheckpoint) async throws { try await base.saveCheckpoint(checkpoint) }
    public func checkpoints(requestIds: [String]) async throws -> [BatchCheckpoint] { try await base.checkpoints(requestIds: requestIds) }
    public func removeCheckpoint(id: String) async throws { try await base.removeCheckpoint(id: id) }
    public func renewLeases(requestIds: [String], owner: String, until expiry: Date) async throws {
        try await base.renewLeases(requestIds: requestIds, owner: owner, until: expiry)
    }
    public func saveReceipts(_ receipts: [Receipt]) async throws { try await base.saveReceipts(receipts) }
    public func heldSubjects(among pseudonyms: [String]) async throws -> Set<String> { try await base.heldSubjects(among: pseudonyms) }
    public func claimBatch(owner: String, until expiry: Date, limit: Int, excluding: [String], now: Date) async throws -> [ErasureRequest] {
        try await base.claimBatch(owner: owner, until: expiry, limit: limit, excluding: excluding, now: now)
    }
    public func requests(dedupeKeys: [String]) async throws -> [String: ErasureRequest] { try await base.requests(dedupeKeys: dedupeKeys) }
    public func openRequests(subjectPseudonyms: [String]) async throws -> [String: ErasureRequest] {
        try await base.openRequests(subjectPseudonyms: subjectPseudonyms)
    }
    public func insertAll(_ requests: [ErasureRequest]) async throws -> Set<String> { try await base.insertAll(requests) }
    public func releaseAll(requestIds: [String], owner: String) async throws { try await base.releaseAll(requestIds: requestIds, owner: owner) }
    public func orphanCandidates(subjectPseudonyms: [String]) async throws -> [String: Date] {
        try await base.orphanCandidates(subjectPseudonyms: subjectPseudonyms)
    }
    public func recordOrphanCandidates(_ subjectPseudonyms: [String], at date: Date) async throws {
        try await base.recordOrphanCandidates(subjectPseudonyms, at: date)
    }
}
