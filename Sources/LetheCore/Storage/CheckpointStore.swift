/// The progress of batches in flight (one small document per batch), so that an
/// interrupted batch resumes after its last applied rule.
public protocol CheckpointStore: Sendable {
    func saveCheckpoint(_ checkpoint: BatchCheckpoint) async throws
    /// Checkpoints of unfinished batches that hold any of these requests.
    func checkpoints(requestIds: [String]) async throws -> [BatchCheckpoint]
    func removeCheckpoint(id: String) async throws
}
