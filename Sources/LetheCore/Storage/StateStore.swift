import Foundation

/// Where Lethe keeps its own records (the state database, `lethe` by default), as the
/// small stores each job needs. A job asks for the one it uses; the engine holds all.
public typealias StateStore = RequestQueue & RecordStore & HoldStore & RetainedLedger & CheckpointStore
    & OrphanCandidateStore & SubjectKeySource & LeaseRegistry & TombstoneStore

/// The key of subject pseudonyms: created once, then always the same.
public protocol SubjectKeySource: Sendable {
    func subjectKey() async throws -> SecretKey
}

/// Thrown by the queue when another worker took a request's lease.
public struct LeaseLost: Error, Sendable, CustomStringConvertible {
    public let requestId: String
    public init(requestId: String) { self.requestId = requestId }
    public var description: String { "the lease on \(requestId) was taken over by another worker; it continues the request" }
}

/// How a worker leases the requests it works on: who it is, and for how long a lease
/// lasts before it must be renewed.
public struct LeaseTerms: Sendable, Hashable {
    public var owner: String
    public var duration: Duration

    public init(owner: String, duration: Duration) {
        self.owner = owner
        self.duration = duration
    }

    /// A lease taken or renewed at `date`.
    public func lease(at date: Date) -> Lease {
        Lease(owner: owner, expiresAt: date.addingTimeInterval(duration.timeInterval))
    }
}

extension Duration {
    public var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
