import Foundation

/// Users the orphan sweep found linked but missing, and since when.
public protocol OrphanCandidateStore: Sendable {
    /// When each of these users was first seen orphaned, for those seen before, by
    /// pseudonym. The orphan sweep's grace period counts from there.
    func orphanCandidates(subjectPseudonyms: [String]) async throws -> [String: Date]
    /// Records these users as seen orphaned at `date` (a user's first sighting is
    /// kept) and forgets every other candidate: one that is no longer orphaned (a new
    /// user whose users document has since been written) starts again from nothing.
    func recordOrphanCandidates(_ subjectPseudonyms: [String], at date: Date) async throws
}
