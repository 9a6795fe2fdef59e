import Foundation

/// Documents kept by a `retain` rule until `then` falls due.
public protocol RetainedLedger: Sendable {
    func recordRetained(_ entries: [RetainedDocument]) async throws
    /// Retained documents whose `then` is due at `date`, oldest first.
    func dueRetained(at date: Date, limit: Int) async throws -> [RetainedDocument]
    /// Removes entries whose `then` has been applied.
    func forgetRetained(_ entries: [RetainedDocument]) async throws
}
