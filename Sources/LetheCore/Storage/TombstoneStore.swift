import Foundation

/// Tombstones of erased values (keyed HMACs, never the values), so that the restore
/// sweep recognizes data a restored backup brought back.
public protocol TombstoneStore: Sendable {
    /// Records tombstones. Idempotent: a tombstone of the same key and request recorded
    /// again (a finish run again after a crash) is kept once, with its first time.
    func recordTombstones(_ tombstones: [Tombstone]) async throws
    /// The latest tombstone (by `erasedAt`) of each of these keys that has one.
    func tombstones(keys: [String]) async throws -> [String: Tombstone]
    /// Removes the tombstones recorded before `date`; returns how many.
    func removeTombstones(erasedBefore date: Date) async throws -> Int
    /// How many tombstones were recorded before `date` (what a dry run would remove).
    func countTombstones(erasedBefore date: Date) async throws -> Int
}
