import Foundation

/// Which kind of producer an event came from.
public enum EventSource: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// A MongoDB Atlas App Services authentication trigger event, inserted as-is.
    case appServices = "app-services"
    /// A CloudEvents 1.0 event in its JSON form.
    case cloudEvents = "cloudevents"

    public var description: String { rawValue }
}

/// One event read from outside, accepted by `DeletionEventParser`: a user's deletion, or
/// an event that is acknowledged and ignored (a login, a sign-up, another event type).
///
/// Its `description` (and `dump`) hold no personal data: not the user id, not the
/// identity ids, not the producer's event id. The subject is there for the engine only.
/// Nothing of the producer's user profile (`user.data`: email, name) is ever read.
public struct DeletionEvent: Sendable, Hashable, CustomStringConvertible, CustomReflectable {
    public enum Kind: Sendable, Hashable, CustomStringConvertible, CustomReflectable {
        /// The user was deleted: erase this subject.
        case userDeleted(ErasureSubject)
        /// Not a deletion (App Services `LOGIN`, `CREATE`, or a CloudEvents type other
        /// than `user.deleted`): acknowledged and ignored. The type is a plain name.
        case ignored(operationType: String)

        /// `user-deleted (2 identities)` or `ignored LOGIN`: never an id.
        public var description: String {
            switch self {
            case .userDeleted(let subject):
                "user-deleted (\(subject.identities.count) \(subject.identities.count == 1 ? "identity" : "identities"))"
            case .ignored(let type):
                "ignored \(type)"
            }
        }

        /// What `dump` shows: the description, no ids.
        public var customMirror: Mirror { Mirror(self, children: ["kind": description]) }
    }

    public let source: EventSource
    /// The producer's id of the event: the CloudEvents `id` (unique together with
    /// `cloudEventsSource`). App Services authentication events have none: nil.
    public let eventId: String?
    /// The CloudEvents `source` attribute; nil for App Services.
    public let cloudEventsSource: String?
    /// Identifies the event across deliveries, without personal data: the same event
    /// delivered twice has the same key, two different events have different keys.
    /// See `dedupeKey(using:)` and docs/events.md.
    public let dedupeKey: String
    public let kind: Kind
    /// When it happened, by the producer's clock (`time`); nil when the event has none.
    public let occurredAt: Date?
    /// The authentication provider types involved (`local-userpass`, `oauth2-google`),
    /// never their ids. Entries that are not plain names are left out.
    public let providers: [String]

    /// What the dedupe key is computed from. Holds ids: never shown.
    let dedupeMaterial: DedupeMaterial

    init(source: EventSource, eventId: String?, cloudEventsSource: String?, kind: Kind, occurredAt: Date?,
         providers: [String], dedupeMaterial: DedupeMaterial, dedupeSecret: SecretKey?) {
        self.source = source
        self.eventId = eventId
        self.cloudEventsSource = cloudEventsSource
        self.kind = kind
        self.occurredAt = occurredAt
        self.providers = providers
        self.dedupeMaterial = dedupeMaterial
        self.dedupeKey = dedupeMaterial.key(using: dedupeSecret)
    }

    /// The user to erase; nil for an ignored event.
    public var subject: ErasureSubject? {
        if case .userDeleted(let subject) = kind { subject } else { nil }
    }

    /// True when the event asks for an erasure.
    public var isDeletion: Bool { subject != nil }

    /// The dedupe key computed with `key`: HMAC-SHA256 when a key is given, plain
    /// SHA-256 otherwise. `dedupeKey` is this, with the parser's `Options.dedupeSecret`.
    ///
    /// - CloudEvents: `ce:` and the hex digest of `source`, a zero byte, `id`.
    /// - App Services: `as:` and the hex digest of the length-prefixed operationType,
    ///   user id, number of identity ids, identity ids (sorted by their UTF-8 bytes,
    ///   duplicates removed) and time in milliseconds since 1970.
    public func dedupeKey(using key: SecretKey?) -> String {
        dedupeMaterial.key(using: key)
    }

    /// `app-services user-deleted (2 identities) at 2024-05-01T12:00:00.000Z via [local-userpass], key as:…`
    public var description: String {
        var text = "\(source) \(kind)"
        if let occurredAt { text += " at \(Self.format(occurredAt))" }
        if !providers.isEmpty { text += " via [\(providers.joined(separator: ", "))]" }
        return text + ", key \(dedupeKey)"
    }

    /// What `dump` shows: the same fields as `description`, no ids.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "source": source.rawValue,
            "kind": kind.description,
            "occurredAt": occurredAt.map(Self.format) ?? "none",
            "providers": providers,
            "dedupeKey": dedupeKey,
        ], displayStyle: .struct)
    }

    private static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}

/// The outcome of parsing one event: accepted, or refused with the reason.
public enum ParsedEvent: Sendable, Hashable, CustomStringConvertible {
    case accepted(DeletionEvent)
    case refused(EventRefusal)

    public var event: DeletionEvent? {
        if case .accepted(let event) = self { event } else { nil }
    }

    public var refusal: EventRefusal? {
        if case .refused(let refusal) = self { refusal } else { nil }
    }

    public var description: String {
        switch self {
        case .accepted(let event): "accepted: \(event)"
        case .refused(let refusal): "refused: \(refusal)"
        }
    }
}
