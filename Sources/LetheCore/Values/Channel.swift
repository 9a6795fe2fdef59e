/// How a request or an event reached Lethe, or which job wrote an audit entry.
public enum Channel: String, Sendable, Hashable, Codable, CaseIterable {
    /// `lethe erase`, `lethe enqueue`.
    case cli
    /// The inbox collection.
    case inbox
    /// `POST /v1/events`.
    case http
    /// The retention sweep.
    case sweep
    /// A request recorded by the orphan sweep.
    case orphanSweep = "orphan-sweep"
    /// A request recorded by the restore sweep: data of an erased user that a restored
    /// backup brought back.
    case restoreSweep = "restore-sweep"
}
