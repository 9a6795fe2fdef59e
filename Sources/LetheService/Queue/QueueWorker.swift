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

    /// What one pass did, in counts: a pass over a backlog of any length holds no more
    /// than the requests it left claimable.
    public struct Summary: Sendable, Hashable {
        /// Requests processed, by the state each was left in.
        public var states: [ErasureRequest.State: Int] = [:]
        /// The requests left claimable (held, or taken over by another worker), which
        /// the pass does not claim again.
        public var leftClaimable: Set<String> = []
        public var leasesLost = 0
        /// Documents changed (deleted, anonymized, pulled) or retained, by action.
        public var documents: [String: Int] = [:]

        public var processed: Int { states.values.reduce(0, +) }
        public func count(_ state: ErasureRequest.State) -> Int { states[state] ?? 0 }
        public var anyFailed: Bool { count(.failed) > 0 }

        mutating func record(_ requestId: String, _ state: ErasureRequest.State) {
            states[state, default: 0] += 1
            if state.isClaimable { leftClaimable.insert(requestId) }
        }

        /// Adds another pass's figures (another lane's) to these.
        public mutating func add(_ other: Summary) {
            states.merge(other.states, uniquingKeysWith: +)
            leftClaimable.formUnion(other.leftClaimable)
            leasesLost += other.leasesLost
            documents.merge(other.documents, uniquingKeysWith: +)
        }
    }

    let engine: ErasureEngine
    let options: Options
    let logger: Logger

    public init(engine: ErasureEngine, options: Options = Options(), logger: Logger = Logger(label: "lethe.worker")) {
        self.engine = engine
        self.options = options
        self.logger = logger
    }

    /// The same worker as lane `number` of several in one process: its own lease owner.
    public func lane(_ number: Int) -> QueueWorker {
        var laneOptions = options
        laneOptions.owner = "\(options.owner)/\(number)"
        return QueueWorker(engine: engine, options: laneOptions, logger: logger)
    }

    /// `drain` by `lanes` workers side by side, each claiming its own batches under its
    /// own lease owner (the leases keep them apart, as between processes). While one
    /// lane's batch waits on its records, another's commands keep the server busy.
    public func drain(lanes: Int, shouldStop: @escaping @Sendable () -> Bool = { false }) async throws -> Summary {
        guard lanes > 1 else { return try await drain(shouldStop: shouldStop) }
        return try await withThrowingTaskGroup(of: Summary.self) { group in
            for number in 1...lanes {
                let worker = lane(number)
                group.addTask { try await worker.drain(shouldStop: shouldStop) }
            }
            var total = Summary()
            for try await summary in group { total.add(summary) }
            return total
        }
    }

    /// Runs every ready request once, then returns. `shouldStop` is checked between
    /// requests, so a shutdown finishes the request in hand and takes no new one.
    public func drain(shouldStop: @Sendable () -> Bool = { false }) async throws -> Summary {
        var summary = Summary()
        let leasing = LeaseRenewingStateStore(base: engine.state, owner: options.owner, duration: options.leaseDuration)
        let leasedEngine = engine.with(state: leasing)
        while !shouldStop() {
            let now = Date()
            // What this pass has looked at and left claimable is not taken again; done,
            // failed or waiting requests no claim finds anyway, so the list stays short
            // however long the backlog.
            let claimed = try await engine.state.claimBatch(
                owner: options.owner, until: now.addingTimeInterval(options.leaseDuration.seconds),
                limit: options.requestsPerBatch, excluding: Array(summary.leftClaimable), now: now
            )
            guard !claimed.isEmpty else { break }
            let ids = claimed.map(\.id)
            do {
                let processed = try await leasedEngine.processBatch(claimed)
                for request in processed {
                    summary.record(request.id, request.state)
                    guard request.finishedAt != nil else { continue }
                    for rule in request.rules { summary.documents[rule.action, default: 0] += rule.deleted + rule.modified + rule.retained }
                }
                // A finished batch gave its leases back with its last save.
                try await engine.state.releaseAll(requestIds: processed.filter { $0.lease != nil }.map(\.id), owner: options.owner)
            } catch let lost as LeaseLost {
                summary.leasesLost += 1
                for id in ids { summary.record(id, .running) }
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

/// Renews the worker's leases as the engine records progress: with every save, and
/// with a batch's checkpoints once a third of the lease has passed (one command for the
/// whole batch, not one per request and rule).
struct LeaseRenewingStateStore: ForwardingStateStore {
    let base: any StateStore
    let owner: String
    let duration: Duration
    private let lastRenewal = LastRenewal()

    init(base: any StateStore, owner: String, duration: Duration) {
        self.base = base
        self.owner = owner
        self.duration = duration
    }

    func save(_ request: ErasureRequest) async throws {
        var renewed = request
        renewed.lease = Lease(owner: owner, expiresAt: Date().addingTimeInterval(duration.seconds))
        try await base.save(renewed)
    }

    func saveAll(_ requests: [ErasureRequest], releasingLeases: Bool) async throws {
        let now = Date()
        let expiry = now.addingTimeInterval(duration.seconds)
        try await base.saveAll(requests.map { request in
            var renewed = request
            renewed.lease = Lease(owner: owner, expiresAt: expiry)
            return renewed
        }, releasingLeases: releasingLeases)
        lastRenewal.set(now)
    }

    func markStarted(requestIds: [String], lease: Lease?) async throws {
        let now = Date()
        try await base.markStarted(requestIds: requestIds, lease: Lease(owner: owner, expiresAt: now.addingTimeInterval(duration.seconds)))
        lastRenewal.set(now)
    }

    func saveCheckpoint(_ checkpoint: BatchCheckpoint) async throws {
        try await base.saveCheckpoint(checkpoint)
        let now = Date()
        if now.timeIntervalSince(lastRenewal.get()) > duration.seconds / 3 {
            try await base.renewLeases(requestIds: checkpoint.requestIds, owner: owner, until: now.addingTimeInterval(duration.seconds))
            lastRenewal.set(now)
        }
    }
}

/// When the leases were last extended (shared by the copies of the store).
private final class LastRenewal: @unchecked Sendable {
    // @unchecked: guarded by the lock.
    private let lock = NSLock()
    private var date = Date()

    func get() -> Date { lock.withLock { date } }
    func set(_ newValue: Date) { lock.withLock { date = newValue } }
}

extension Duration {
    var seconds: TimeInterval {
        let (s, attoseconds) = components
        return TimeInterval(s) + TimeInterval(attoseconds) / 1e18
    }
}
