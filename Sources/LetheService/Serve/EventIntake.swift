import Foundation

/// Takes in raw deletion events (JSON: one event, an array, or JSON Lines) from a
/// channel and records each as a request, durably, before returning.
public protocol EventIntake: Sendable {
    func receive(_ body: [UInt8], channel: String) async throws -> IntakeSummary
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
        /// Position in the delivery (0-based element or line), when there are several.
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
