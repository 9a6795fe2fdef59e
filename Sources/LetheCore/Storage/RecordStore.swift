import BSON
import Foundation

/// What Lethe tells an auditor: receipts, the append-only audit trail, refused events
/// and sweeps. Written, never rewritten (a receipt is replaced only by its own
/// request's next attempt).
public protocol RecordStore: Sendable {
    func saveReceipts(_ receipts: [Receipt]) async throws
    func receipt(requestId: String) async throws -> Receipt?
    /// Appends to the audit trail (never changes or removes an entry).
    func appendAudit(_ entries: [AuditEntry]) async throws
    /// Records events refused at intake (no personal data in them).
    func saveRefusals(_ refusals: [IntakeRefusal]) async throws
    /// Records a finished sweep, for the period reports.
    func saveSweep(_ sweep: SweepReport) async throws
}

/// An event refused at intake: when, through which channel, and why. Never the event.
public struct IntakeRefusal: Sendable, Hashable, Codable {
    public var id: String
    public var at: Date
    public var channel: Channel
    /// A stable code (`not-plain-id`, `missing-field`...).
    public var code: String
    public var field: String?
    public var message: String

    public init(at: Date, channel: Channel, code: String, field: String?, message: String) {
        self.id = "ref_" + randomHex(bytes: 6)
        self.at = at
        self.channel = channel
        self.code = code
        self.field = field
        self.message = message
    }
}
