import Foundation

/// Renews a batch's leases on a timer until the batch stops it. A renewal that finds
/// the lease taken over ends the batch (`LeaseLost`); one that merely crossed the
/// batch's own release on the way is no loss, and is ignored.
final class LeaseHeartbeat: @unchecked Sendable {
    // @unchecked: `stopped` is guarded by the lock.
    private let lock = NSLock()
    private var stopped = false

    /// Ends the heartbeat before the batch gives its leases back.
    func stop() { lock.withLock { stopped = true } }

    var isStopped: Bool { lock.withLock { stopped } }

    /// Calls `renew` every `interval` until stopped or cancelled.
    func beat(every interval: Duration, _ renew: @Sendable () async throws -> Void) async throws {
        while !isStopped {
            try await Task.sleep(for: interval)
            guard !isStopped else { return }
            do {
                try await renew()
            } catch let lost as LeaseLost {
                if isStopped { return }
                throw lost
            }
        }
    }
}
