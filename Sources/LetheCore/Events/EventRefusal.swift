import Foundation

/// Why an event was refused: a stable code, the field path, and a message that says what
/// was wrong and what was expected.
///
/// A refusal never holds a value from the event: no id, no email, no time, not even the
/// offending character of malformed JSON. It names the field and the problem, so it can
/// be logged, stored (`IntakeRefusal`) and shown to whoever sent the event.
public struct EventRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    /// A refusal's code. Named constants rather than an enum, so that a new code never
    /// breaks a caller's `switch`; `code` is the stable text stored and documented.
    public struct Reason: Sendable, Hashable, RawRepresentable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The stable code, as stored and documented in docs/events.md.
        public var code: String { rawValue }
        public var description: String { rawValue }

        /// A required field is absent, null or empty.
        public static let missingField = Reason(rawValue: "missing-field")
        /// A field has the wrong JSON type (an object where a string belongs...).
        public static let wrongType = Reason(rawValue: "wrong-type")
        /// A user id, identity id, CloudEvents `id` or `source` is not a string or does
        /// not pass `SubjectBinding.checkPlain` (or, for `id`/`source`, the looser check
        /// for CloudEvents attributes).
        public static let notPlainId = Reason(rawValue: "not-plain-id")
        /// More identities than `DeletionEventParser.Options.maximumIdentities`.
        public static let tooManyIdentities = Reason(rawValue: "too-many-identities")
        /// An identifier (`data.identifiers`) that no policy declares in `subject.identifiers`.
        public static let undeclaredIdentifier = Reason(rawValue: "undeclared-identifier")
        /// `time` is not a date in an accepted form.
        public static let badTime = Reason(rawValue: "bad-time")
        /// Not an object, or neither an App Services authentication event nor a
        /// CloudEvent, or an event type that is not a plain name.
        public static let unknownShape = Reason(rawValue: "unknown-shape")
        /// A CloudEvent whose `specversion` is not "1.0".
        public static let unsupportedSpecversion = Reason(rawValue: "unsupported-specversion")
        /// The body is larger than `DeletionEventParser.Options.maximumBytes`.
        public static let oversized = Reason(rawValue: "oversized")
        /// The body, or one line of JSON Lines, is not valid JSON (or is empty).
        public static let badJSON = Reason(rawValue: "bad-json")

        /// Every code, in the order docs/events.md lists them.
        public static let all: [Reason] = [
            .missingField, .wrongType, .notPlainId, .tooManyIdentities, .undeclaredIdentifier, .badTime,
            .unknownShape, .unsupportedSpecversion, .oversized, .badJSON,
        ]
    }

    /// Where the refused event was in the body.
    public enum Location: Sendable, Hashable, CustomStringConvertible {
        /// Its index in a JSON array, from 0.
        case element(Int)
        /// Its line in JSON Lines, from 1.
        case line(Int)

        public var description: String {
            switch self {
            case .element(let index): "element \(index)"
            case .line(let line): "line \(line)"
            }
        }
    }

    public let reason: Reason
    /// The field path (`user.id`, `data.identities[2].id`); nil when the problem is the
    /// whole event or body.
    public let field: String?
    /// What was wrong and what was expected; never a value from the event.
    public let message: String
    /// Where the event was: nil for a body holding one event (or a problem with the whole
    /// body), an element index for an array, a line number for JSON Lines.
    public internal(set) var location: Location?

    public init(reason: Reason, field: String?, message: String, location: Location? = nil) {
        self.reason = reason
        self.field = field
        self.message = message
        self.location = location
    }

    /// The stable code: `reason.code`.
    public var code: String { reason.code }

    /// The element index (array) or line number (JSON Lines); nil otherwise.
    public var position: Int? {
        switch location {
        case .element(let index): index
        case .line(let line): line
        case nil: nil
        }
    }

    /// `line 3: user.id is missing; expected … [missing-field]`
    public var description: String {
        (location.map { "\($0): " } ?? "") + message + " [\(code)]"
    }
}

extension IntakeRefusal {
    /// The record of a refused event, for `StateStore.saveRefusal`: its code, field and
    /// message (with the position), and nothing from the event.
    public init(_ refusal: EventRefusal, channel: Channel, at date: Date) {
        self.init(at: date, channel: channel, code: refusal.code, field: refusal.field, message: refusal.description)
    }
}

// MARK: The refusals, in one place so that every message is written once.

extension EventRefusal {
    static let plainIdExpectation = SubjectBinding.expectation

    static func missing(_ field: String, expected: String) -> EventRefusal {
        EventRefusal(reason: .missingField, field: field, message: "\(field) is missing; expected \(expected)")
    }

    static func null(_ field: String, expected: String) -> EventRefusal {
        EventRefusal(reason: .missingField, field: field, message: "\(field) is null; expected \(expected)")
    }

    static func empty(_ field: String, expected: String) -> EventRefusal {
        EventRefusal(reason: .missingField, field: field, message: "\(field) is empty; expected \(expected)")
    }

    static func wrongType(_ field: String, found: String, expected: String) -> EventRefusal {
        EventRefusal(reason: .wrongType, field: field, message: "\(field) is \(found); expected \(expected)")
    }

    static func idNotString(_ field: String, found: String) -> EventRefusal {
        EventRefusal(reason: .notPlainId, field: field, message: "\(field) is \(found); expected \(plainIdExpectation), as a string")
    }

    static func notPlain(_ error: SubjectError, field: String) -> EventRefusal {
        EventRefusal(reason: .notPlainId, field: field, message: error.description)
    }

    static func tooManyIdentities(_ field: String, maximum: Int) -> EventRefusal {
        EventRefusal(reason: .tooManyIdentities, field: field,
                     message: "\(field) has more than \(maximum) entries; expected at most \(maximum) identities per event")
    }

    static func undeclaredIdentifier(_ field: String, name: String?, declared: [String]) -> EventRefusal {
        let which = name.map { "identifier '\($0)'" } ?? "an identifier whose name is not a plain name"
        let expected = declared.isEmpty ? "no identifiers: no policy declares any (subject.identifiers)" : "only " + declared.joined(separator: ", ")
        return EventRefusal(reason: .undeclaredIdentifier, field: field,
                            message: "\(field) holds \(which), which no policy declares; expected \(expected)")
    }

    static let timeExpectation =
        "an ISO-8601 date-time with a time zone (2024-05-01T12:00:00.000Z), {\"$date\": that text}, {\"$date\": {\"$numberLong\": milliseconds since 1970}} or a BSON date"

    static func badTime(_ field: String, found: String?) -> EventRefusal {
        let problem = found.map { "is \($0)" } ?? "is not a valid date-time"
        return EventRefusal(reason: .badTime, field: field, message: "\(field) \(problem); expected \(timeExpectation)")
    }

    static func notAnObject(found: String) -> EventRefusal {
        EventRefusal(reason: .unknownShape, field: nil,
                     message: "the event is \(found); expected a JSON object: an App Services authentication event or a CloudEvent")
    }

    static let unknownShape = EventRefusal(
        reason: .unknownShape, field: nil,
        message: "the object is neither an App Services authentication event nor a CloudEvent; expected operationType and user (App Services) or specversion, id, source and type (CloudEvents 1.0)")

    static func typeNotPlain(_ field: String, expected: String) -> EventRefusal {
        EventRefusal(reason: .unknownShape, field: field,
                     message: "\(field) is not a plain name; expected \(expected) (letters, digits and . _ - : / + only, at most \(DeletionEventParser.maximumNameLength) characters)")
    }

    static let unsupportedSpecversion = EventRefusal(
        reason: .unsupportedSpecversion, field: "specversion",
        message: "specversion is not \"1.0\"; expected a CloudEvents 1.0 event (specversion \"1.0\")")

    static func oversized(maximum: Int) -> EventRefusal {
        EventRefusal(reason: .oversized, field: nil,
                     message: "the body is larger than \(maximum) bytes, the most accepted (DeletionEventParser.Options.maximumBytes); send fewer events per body")
    }

    static let emptyBody = EventRefusal(
        reason: .badJSON, field: nil,
        message: "the body is empty; expected one JSON object, an array of objects, or JSON Lines (one object per line)")

    static func badJSON(body failure: EventJSONReader.Failure) -> EventRefusal {
        EventRefusal(reason: .badJSON, field: nil,
                     message: "the body is not valid JSON: \(failure.problem) at line \(failure.line), column \(failure.column); expected one JSON object, an array of objects, or JSON Lines (one object per line)")
    }

    static func badJSON(line failure: EventJSONReader.Failure, number: Int) -> EventRefusal {
        EventRefusal(reason: .badJSON, field: nil,
                     message: "the line is not valid JSON: \(failure.problem) at column \(failure.column); expected one JSON object per line",
                     location: .line(number))
    }
}
