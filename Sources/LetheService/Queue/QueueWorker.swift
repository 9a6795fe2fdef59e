import Foundation
import LetheCore
import Logging

/// Drains the request queue: claims a ready request with a lease, runs it, gives the
/// lease back, and goes on until none is ready. Many workers, on many machines, can
/// share one state database; a worker that dies loses its leases when they expire and
/// another worker finishes its requests (every action is idempotent).
public struct QueueWorker: Sendable {
    public struct Options: Sendable {
        /// This worker's name in leases. Default: host name and process id.
        public var owner: String
        /// How long a lease lasts without renewal; each rule's progress renews it.
        /// Default 10 minutes.
        public var leaseDuration: Duration
        /// Requests claimed and erased together: one write per rule serves them all.
        /// Default 500.
        public var requestsPerBatch: Int

        public init(owner: String = QueueWorker.defaultOwner, leaseDuration: Duration = .seconds(600), requestsPerBatch: Int = 500) {
            self.owner = owner
            self.leaseDuration = leaseDuration
            self.requestsPerBatch = requestsPerBatch
        }
    }

    public static var defaultOwner: String {
        "\(ProcessInfo.processInfo.hostName)#\(ProcessInfo.processInfo.processIdentifier)#\(UUID().uuidString.prefix(6))"
    }

    /// What one pass did.
    public struct Summary: Sendable, Hashable {
        public var processed: [String: ErasureRequest.State] = [:]
        public var leasesLost = 0
        /// Documents changed (deleted, anonymized, pulled) or retained, by action.
        public var documents: [String: Int] = [:]

        public func count(_ state: ErasureRequest.State) -> Int { processed.values.filter { $0 == state }.count }
        public var anyFailed: Bool { processed.values.contains(.failed) }
    }

    let engine: ErasureEngine
    let options: Options
    let logger: Logger

    public init(engine: ErasureEngine, options: Options = Options(), logger: Logger = Logger(label: "lethe.worker")) {
        self.engine = engine
        self.options = options
        self.logger = logger
    }

    /// Runs every ready request once, then returns. `shouldStop` is checked between
    /// requests, so a shutdown finishes the request in hand and takes no new one.
    public func drain(shouldStop: @Sendable () -> Bool = { false }) async throws -> Summary {
        var summary = Summary()
        let leasing = LeaseRenewingStateStore(base: engine.state, owner: options.owner, duration: options.leaseDuration)
        let leasedEngine = engine.with(state: leasing)
        while !shouldStop() {
            let now = Date()
            let claimed = try await engine.state.claimBatch(
                owner: options.owner, until: now.addingTimeInterval(options.leaseDuration.seconds),
                limit: options.requestsPerBatch, excluding: Array(summary.processed.keys), now: now
            )
            guard !claimed.isEmpty else { break }
            let ids = claimed.map(\.id)
            do {
                for request in try await leasedEngine.processBatch(claimed) {
                    summary.processed[request.id] = request.state
                    guard request.finishedAt != nil else { continue }
                    for rule in request.rules { summary.documents[rule.action, default: 0] += rule.deleted + rule.modified + rule.retained }
                }
                try await engine.state.releaseAll(requestIds: ids, owner: options.owner)
            } catch let lost as LeaseLost {
                summary.leasesLost += 1
                for id in ids { summary.processed[id] = summary.processed[id] ?? .running }
                logger.warning("lease lost; another worker continues", metadata: [LogKey.request: .string(lost.requestId)])
                try? await engine.state.releaseAll(requestIds: ids, owner: options.owner)
            } catch {
                // Give the requests back before surfacing the error: another pass may succeed.
                try? await engine.state.releaseAll(requestIds: ids, owner: options.owner)
                throw error
            }
        }
        return summary
    }
}

/// Renews the worker's lease every time the engine records progress.
struct LeaseRenewingStateStore: StateStore {
    let base: any StateStore
    let owner: String
    let duration: Duration

    func save(_ request: ErasureRequest) async throws {
        var renewed = request
        renewed.lease = Lease(owner: owner, expiresAt: Date().addingTimeInterval(duration.seconds))
        try await base.save(renewed)
    }

    func subjectKey() async throws -> SecretKey { try await base.subjectKey() }
    func request(id: String) async throws -> ErasureRequest? { try await base.request(id: id) }
    func saveReceipt(_ receipt: Receipt) async throws { try await base.saveReceipt(receipt) }
    func receipt(requestId: String) async throws -> Receipt? { try await base.receipt(requestId: requestId) }
    func activeHold(subjectPseudonym: String) async throws -> LegalHold? { try await base.activeHold(subjectPseudonym: subjectPseudonym) }
    func addHold(_ hold: LegalHold) async throws { try await base.addHold(hold) }
    func holds() async throws -> [LegalHold] { try await base.holds() }
    func removeHold(id: String) async throws -> Bool { try await base.removeHold(id: id) }
    func saveRefusal(_ refusal: IntakeRefusal) async throws { try await base.saveRefusal(refusal) }
    func saveSweep(_ sweep: SweepReport) async throws { try await base.saveSweep(sweep) }
    func appendAudit(_ entries: [AuditEntry]) async throws { try await base.appendAudit(entries) }
    func recordRetained(_ entries: [RetainedDocument]) async throws { try await base.recordRetained(entries) }
    func dueRetained(at date: Date, limit: Int) async throws -> [RetainedDocument] { try await base.dueRetained(at: date, limit: limit) }
    func forgetRetained(_ entries: [RetainedDocument]) async throws { try await base.forgetRetained(entries) }
    func saveAll(_ requests: [ErasureRequest]) async throws {
        let expiry = Date().addingTimeInterval(duration.seconds)
        try await base.saveAll(requests.map { request in
            var renewed = request
            renewed.lease = Lease(owner: owner, expiresAt: expiry)
            return renewed
        })
    }
    func saveReceipts(_ receipts: [Receipt]) async throws { try await base.saveReceipts(receipts) }
    func heldSubjects(among pseudonyms: [String]) async throws -> Set<String> { try await base.heldSubjects(among: pseudonyms) }
    func claimBatch(owner: String, until expiry: Date, limit: Int, excluding: [String], now: Date) async throws -> [ErasureRequest] {
        try await base.claimBatch(owner: owner, until: expiry, limit: limit, excluding: excluding, now: now)
    }
    func releaseAll(requestIds: [String], owner: String) async throws { try await base.releaseAll(requestIds: requestIds, owner: owner) }
    func requests(dedupeKeys: [String]) async throws -> [String: ErasureRequest] { try await base.requests(dedupeKeys: dedupeKeys) }
    func openRequests(subjectPseudonyms: [String]) async throws -> [String: ErasureRequest] { try await base.openRequests(subjectPseudonyms: subjectPseudonyms) }
    func insertAll(_ requests: [ErasureRequest]) async throws -> Set<String> { try await base.insertAll(requests) }
    func saveRefusals(_ refusals: [IntakeRefusal]) async throws { try await base.saveRefusals(refusals) }
    func orphanCandidates(subjectPseudonyms: [String]) async throws -> [String: Date] {
        try await base.orphanCandidates(subjectPseudonyms: subjectPseudonyms)
    }
    func recordOrphanCandidates(_ subjectPseudonyms: [String], at date: Date) async throws {
        try await base.recordOrphanCandidates(subjectPseudonyms, at: date)
    }
}

extension Duration {
    var seconds: TimeInterval {
        let (s, attoseconds) = components
        return TimeInterval(s) + TimeInterval(attoseconds) / 1e18
    }
}
