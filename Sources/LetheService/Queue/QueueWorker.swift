import Foundation
import LetheCore
import Logging

/// Drains the request queue: claims a ready request with a lease, runs it, gives the
/// lease back, and goes on until none is ready. Many workers, on many machines, can
/// share one state database; a worker that dies loses its leases when they expire and
/// another worker finishes its requests (every action is idempotent).
public struct QueueWorker: Sendable {
    public struct Options: Sendable {
        /// This worker's name in leases. Default: `LeaseOwnerName.current()`.
        public var owner: String
        /// How long a lease lasts without renewal; a heartbeat renews it every third of
        /// that while a batch runs, so a worker that dies frees its requests soon.
        /// Default 60 s.
        public var leaseDuration: Duration
        /// Requests claimed and erased together: one write per rule serves them all.
        /// Default 500.
        public var requestsPerBatch: Int

        public init(owner: String = QueueWorker.defaultOwner, leaseDuration: Duration = .seconds(60), requestsPerBatch: Int = 500) {
            self.owner = owner
            self.leaseDuration = leaseDuration
            self.requestsPerBatch = requestsPerBatch
        }
    }

    public static var defaultOwner: String { LeaseOwnerName.current().description }

    /// What one pass did, in counts: a pass over a backlog of any length holds no more
    /// than the requests it left claimable.
    public struct Summary: Sendable, Hashable {
        /// Requests processed, by the state each was left in.
        public var states: [ErasureRequest.State: Int] = [:]
        /// The requests left claimable (held, or taken over by another worker), which
        /// the pass does not claim again.
        public var leftClaimable: Set<String> = []
        public var leasesLost = 0
        /// Requests that other workers held under unexpired leases when the pass ended.
        public var leasedElsewhere = 0
        /// Documents changed (deleted, anonymized, pulled) or retained, by action.
        public var documents: [ActionKind: Int] = [:]
        /// Seconds from received to done of each request this pass finished.
        public var durations: [Double] = []

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
            leasedElsewhere = max(leasedElsewhere, other.leasedElsewhere)
            documents.merge(other.documents, uniquingKeysWith: +)
            durations += other.durations
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
    /// batches, so a shutdown finishes the batch in hand and takes no new one.
    public func drain(shouldStop: @Sendable () -> Bool = { false }) async throws -> Summary {
        var summary = Summary()
        let terms = LeaseTerms(owner: options.owner, duration: options.leaseDuration)
        let eraser = engine.eraser(lease: terms)
        try await releaseLeftLeases()
        while !shouldStop() {
            let now = Date()
            // What this pass has looked at and left claimable is not taken again; done,
            // failed or waiting requests no claim finds anyway, so the list stays short
            // however long the backlog.
            let claimed = try await engine.state.claimBatch(
                terms.lease(at: now), limit: options.requestsPerBatch, excluding: Array(summary.leftClaimable), now: now
            )
            guard !claimed.isEmpty else { break }
            let ids = claimed.map(\.id)
            do {
                let processed = try await eraser.run(claimed)
                for request in processed {
                    summary.record(request.id, request.state)
                    guard let finished = request.finishedAt else { continue }
                    if request.state == .done { summary.durations.append(finished.timeIntervalSince(request.receivedAt)) }
                    for rule in request.rules { summary.documents[rule.action, default: 0] += rule.counts.affected(by: rule.action) }
                }
                // The batch gave its leases back with its last save; what it did not save
                // (a request already done when claimed) still carries the claim's.
                let unreleased = processed.filter { $0.lease != nil }.map(\.id)
                if !unreleased.isEmpty { try await engine.state.releaseAll(requestIds: unreleased, owner: options.owner) }
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

    /// Runs one request now, under this worker's lease, as the queue would: nil when
    /// another worker holds it (one request has one worker at a time, `erase`
    /// included), or when it waits for nobody (done, failed, over the limit).
    public func run(requestId: String) async throws -> ErasureRequest? {
        let terms = LeaseTerms(owner: options.owner, duration: options.leaseDuration)
        try await releaseLeftLeases()
        let now = Date()
        guard let claimed = try await engine.state.claimBatch(terms.lease(at: now), limit: 1, excluding: [], among: [requestId], now: now).first
        else { return nil }
        do {
            let processed = try await engine.eraser(lease: terms).run(claimed)
            if processed.lease != nil { try await engine.state.releaseAll(requestIds: [requestId], owner: options.owner) }
            return processed
        } catch {
            try? await engine.state.releaseAll(requestIds: [requestId], owner: options.owner)
            throw error
        }
    }

    /// Gives back at once the leases this worker could not give back (the server went
    /// away mid-batch) and those of processes of this machine that are gone (a run
    /// killed, a container restarted): their requests resume now, not when the leases
    /// expire. Leases of other machines expire as usual.
    func releaseLeftLeases() async throws {
        try await engine.state.releaseAll(requestIds: nil, owner: options.owner)
        guard let me = LeaseOwnerName(owner: options.owner) else { return }
        for owner in try await engine.state.leaseHolders(now: Date()).keys {
            guard let holder = LeaseOwnerName(owner: owner), me.isGone(holder) else { continue }
            logger.notice("resuming the requests of a worker of this machine that is gone", metadata: [LogKey.worker: .string(owner)])
            try await engine.state.releaseAll(requestIds: nil, owner: owner)
        }
    }

    /// Requests other workers hold under unexpired leases now: not done yet, and not
    /// this pass's to take.
    public func leasedElsewhere() async throws -> Int {
        try await engine.state.leaseHolders(now: Date()).filter { $0.key != options.owner && !$0.key.hasPrefix(options.owner + "/") }.values.reduce(0, +)
    }
}
