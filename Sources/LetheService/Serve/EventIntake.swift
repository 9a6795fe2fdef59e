import Foundation
import LetheCore

/// Takes in raw deletion events (JSON: one event, an array, or JSON Lines) from a
/// channel and records each as a request, durably, before returning.
public protocol EventIntake: Sendable {
    func receive(_ body: [UInt8], channel: Channel) async throws -> IntakeSummary
    /// Records deliveries refused before any event was read (HTTP 401, 413): in the
    /// refusals collection and the audit trail, like refused events.
    func record(_ refusals: [IntakeRefusal]) async throws
}

/// What became of each event of one delivery. No personal data: request ids, codes,
/// field names.
public struct IntakeSummary: Sendable, Hashable, Codable {
    public struct Accepted: Sendable, Hashable, Codable {
        public var requestId: String
        /// True when the event had been received before: the same request.
        public var duplicate: Bool
    }

    public struct Refused: Sendable, Hashable, Codable {
        /// Position of the event in the delivery, from 0 (the element of an array, the
        /// n-th non-blank line of JSON Lines, the document of an inbox batch); where it
        /// was written (`line 3`, `element 2`) is in `message`.
        public var position: Int?
        public var code: String
        public var field: String?
        public var message: String
    }

    public var accepted: [Accepted] = []
    /// Events of other kinds (LOGIN, CREATE...), acknowledged and ignored.
    public var ignored: Int = 0
    public var refused: [Refused] = []

    public init(accepted: [Accepted] = [], ignored: Int = 0, refused: [Refused] = []) {
        self.accepted = accepted
        self.ignored = ignored
        self.refused = refused
    }
}

/// What the events of one or many deliveries became, counted: what an inbox drain keeps,
/// so that its memory does not grow with the inbox.
public struct IntakeCounts: Sendable, Hashable {
    /// Events that became a new request.
    public var new: Int
    /// Events received before: the same request.
    public var duplicates: Int
    public var ignored: Int
    public var refused: Int

    public init(new: Int = 0, duplicates: Int = 0, ignored: Int = 0, refused: Int = 0) {
        self.new = new
        self.duplicates = duplicates
        self.ignored = ignored
        self.refused = refused
    }

    public init(_ summary: IntakeSummary) {
        let new = summary.accepted.filter { !$0.duplicate }.count
        self.init(new: new, duplicates: summary.accepted.count - new, ignored: summary.ignored, refused: summary.refused.count)
    }

    public var total: Int { new + duplicates + ignored + refused }

    public mutating func add(_ other: IntakeCounts) {
        new += other.new
        duplicates += other.duplicates
        ignored += other.ignored
        refused += other.refused
    }
}
