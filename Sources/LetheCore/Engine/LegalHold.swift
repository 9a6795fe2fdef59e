import BSON
import Foundation

/// A legal hold: while it stands, no request for the user changes anything.
public struct LegalHold: Sendable, Hashable, Codable {
    public var id: String
    public var subjectPseudonym: String
    /// Why the data must be kept (a case number, a regulator's letter). Written by an
    /// operator: keep personal data out of it.
    public var reason: String
    public var createdAt: Date

    public init(id: String, subjectPseudonym: String, reason: String, createdAt: Date) {
        self.id = id
        self.subjectPseudonym = subjectPseudonym
        self.reason = reason
        self.createdAt = createdAt
    }

    public static func newID() -> String {
        "hold_" + randomHex(bytes: 6)
    }
}
