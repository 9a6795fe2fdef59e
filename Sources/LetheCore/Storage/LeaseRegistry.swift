import Foundation

/// Who holds leases now: so that a worker can give back at once the leases of a
/// process of its own machine that is gone, instead of waiting for them to expire.
public protocol LeaseRegistry: Sendable {
    /// The owners of unexpired leases, with how many requests each holds.
    func leaseHolders(now: Date) async throws -> [String: Int]
}
