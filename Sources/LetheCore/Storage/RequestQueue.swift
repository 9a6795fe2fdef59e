import Foundation

/// Requests and their leases: recorded once per event, claimed by one worker at a time.
/// A request saved with a lease is saved only while that lease is still its owner's.
public protocol RequestQueue: Sendable {
    /// The stored requests among these ids, by id.
    func requests(ids: [String]) async throws -> [String: ErasureRequest]
    /// Requests recorded for any of these event keys, by key.
    func requests(dedupeKeys: [String]) async throws -> [String: ErasureRequest]
    /// The unfinished request of each of these users that has one, by pseudonym.
    func openRequests(subjectPseudonyms: [String]) async throws -> [String: ErasureRequest]
    /// Inserts new requests in one round trip; returns the dedupe keys that another
    /// worker recorded first (those requests were not inserted).
    func insertAll(_ requests: [ErasureRequest]) async throws -> Set<String>
    /// Leases up to `limit` requests that are ready to run (received, held, or running
    /// with an expired lease), oldest first, skipping `excluding` and, with `among`,
    /// taking only those; empty when none is.
    func claimBatch(_ lease: Lease, limit: Int, excluding: [String], among: [String]?, now: Date) async throws -> [ErasureRequest]
    /// Marks these requests running (one more attempt, no note) in one command; with
    /// `lease`, only while its owner holds them, and extended to its expiry.
    func markStarted(requestIds: [String], lease: Lease?) async throws
    /// Extends the owner's leases on these requests to the lease's expiry; throws
    /// `LeaseLost` when another worker took any of them over.
    func renewLeases(requestIds: [String], to lease: Lease) async throws
    /// Saves requests in one round trip, each fenced by the lease it carries; with
    /// `releasingLeases`, the saved requests are no longer leased (the batch is over).
    func saveAll(_ requests: [ErasureRequest], releasingLeases: Bool) async throws
    /// Gives back every lease `owner` still holds on these requests (nil: on any).
    func releaseAll(requestIds: [String]?, owner: String) async throws
}

extension RequestQueue {
    public func request(id: String) async throws -> ErasureRequest? {
        try await requests(ids: [id])[id]
    }

    public func claimBatch(_ lease: Lease, limit: Int, excluding: [String], now: Date) async throws -> [ErasureRequest] {
        try await claimBatch(lease, limit: limit, excluding: excluding, among: nil, now: now)
    }

    /// Saves one request (fenced by its lease, which it keeps).
    public func save(_ request: ErasureRequest) async throws {
        try await saveAll([request], releasingLeases: false)
    }
}
