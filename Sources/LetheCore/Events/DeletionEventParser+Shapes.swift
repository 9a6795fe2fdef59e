import BSON

/// The two accepted shapes. Each checks its fields in a fixed order and refuses at the
/// first problem, so one event gives one refusal, always the same one.
extension DeletionEventParser {
    /// The CloudEvents type of a deletion.
    public static let cloudEventsDeletionType = "user.deleted"
    /// The App Services operation type of a deletion.
    public static let appServicesDeletionType = "DELETE"
    /// Longest CloudEvents `id` or `source` accepted, in UTF-8 bytes.
    public static let maximumAttributeLength = 1_024

    func event(from document: BSONDocument) throws(EventRefusal) -> DeletionEvent {
        if document["specversion"] != nil { return try cloudEvent(document) }
        if document["operationType"] != nil { return try appServicesEvent(document) }
        throw .unknownShape
    }

    // MARK: App Services

    /// `{operationType, providers, user: {id, identities: [{id, provider_type}], data}, time}`.
    /// `user.data` is read only for the identifiers a policy declares (`email`), never
    /// otherwise.
    func appServicesEvent(_ document: BSONDocument) throws(EventRefusal) -> DeletionEvent {
        let operationType = try plainName(document["operationType"], field: "operationType",
                                          expected: "an App Services operation type such as DELETE")
        var providers = Self.plainNames(document["providers"]?.arrayValue ?? [])
        let user = document["user"]?.documentValue

        guard operationType == Self.appServicesDeletionType else {
            // Ignored: nothing is erased, so nothing more is checked. The key is still
            // made from the content, so a redelivery is recognised.
            let identities = (user?["identities"]?.arrayValue ?? []).compactMap { $0.stringValue ?? $0.documentValue?["id"]?.stringValue }
            let milliseconds = document["time"].flatMap(EventTime.milliseconds(from:))
            return DeletionEvent(
                source: .appServices, eventId: nil, cloudEventsSource: nil, kind: .ignored(operationType: operationType),
                occurredAt: milliseconds.map(EventTime.date(milliseconds:)), providers: providers,
                dedupeMaterial: DedupeMaterial(appServicesOperation: operationType, userId: user?["id"]?.stringValue ?? "",
                                               identities: identities, milliseconds: milliseconds),
                dedupeSecret: options.dedupeSecret)
        }

        let userExpected = "the deleted user: an object with id and identities"
        guard let userValue = document["user"] else { throw .missing("user", expected: userExpected) }
        guard case .document(let userDocument) = userValue else {
            if case .null = userValue { throw .null("user", expected: userExpected) }
            throw .wrongType("user", found: Self.kindName(userValue), expected: userExpected)
        }
        let userId = try plainId(userDocument["id"], field: "user.id", expected: "the deleted user's id")
        let identities = try identityList(userDocument["identities"], field: "user.identities")
        let identifiers = try appServicesIdentifiers(userDocument["data"]?.documentValue)
        let milliseconds = try time(document["time"], field: "time", required: true)
        providers = Self.unique(providers + identities.providers)
        return DeletionEvent(
            source: .appServices, eventId: nil, cloudEventsSource: nil,
            kind: .userDeleted(ErasureSubject(userId: userId, identities: identities.ids, identifiers: identifiers)),
            occurredAt: milliseconds.map(EventTime.date(milliseconds:)), providers: providers,
            dedupeMaterial: DedupeMaterial(appServicesOperation: operationType, userId: userId,
                                           identities: identities.ids, milliseconds: milliseconds),
            dedupeSecret: options.dedupeSecret)
    }

    // MARK: CloudEvents

    /// `{specversion: "1.0", id, source, type, time?, data: {userId, identities}}`.
    func cloudEvent(_ document: BSONDocument) throws(EventRefusal) -> DeletionEvent {
        switch document["specversion"] {
        case .string("1.0"): break
        case .string: throw .unsupportedSpecversion
        case .null: throw .null("specversion", expected: "\"1.0\"")
        case let other?: throw .wrongType("specversion", found: Self.kindName(other), expected: "the string \"1.0\"")
        case nil: throw .missing("specversion", expected: "\"1.0\"")
        }
        let id = try attribute(document["id"], field: "id", expected: "the event's id, unique for its source")
        let source = try attribute(document["source"], field: "source", expected: "the event's source (a URI reference)")
        let type = try plainName(document["type"], field: "type", expected: "a CloudEvents type such as user.deleted")
        let material = DedupeMaterial.cloudEvents(source: source, id: id)

        guard type == Self.cloudEventsDeletionType else {
            let milliseconds = document["time"].flatMap(EventTime.milliseconds(from:))
            return DeletionEvent(
                source: .cloudEvents, eventId: id, cloudEventsSource: source, kind: .ignored(operationType: type),
                occurredAt: milliseconds.map(EventTime.date(milliseconds:)), providers: [],
                dedupeMaterial: material, dedupeSecret: options.dedupeSecret)
        }

        let milliseconds = try time(document["time"], field: "time", required: false)
        let dataExpected = "an object with userId and identities (data_base64 is not accepted)"
        guard let dataValue = document["data"] else { throw .missing("data", expected: dataExpected) }
        guard case .document(let data) = dataValue else {
            if case .null = dataValue { throw .null("data", expected: dataExpected) }
            throw .wrongType("data", found: Self.kindName(dataValue), expected: dataExpected)
        }
        let identifiers = try cloudEventIdentifiers(data["identifiers"])
        // Without identifiers the user id is required; with them it may be left out.
        var userId: String?
        if identifiers.isEmpty || (data["userId"] != nil && data["userId"] != .null) {
            userId = try plainId(data["userId"], field: "data.userId", expected: "the deleted user's id")
        }
        let identities = try identityList(data["identities"], field: "data.identities")
        return DeletionEvent(
            source: .cloudEvents, eventId: id, cloudEventsSource: source,
            kind: .userDeleted(ErasureSubject(userId: userId, identities: identities.ids, identifiers: identifiers)),
            occurredAt: milliseconds.map(EventTime.date(milliseconds:)), providers: identities.providers,
            dedupeMaterial: material, dedupeSecret: options.dedupeSecret)
    }

    // MARK: Identifiers

    /// Most identifiers one event may carry.
    public static let maximumIdentifiers = 16

    /// `data.identifiers`: absent or null for none, else an object of declared names to
    /// plain strings (`{"email": "ada@example.com"}`).
    func cloudEventIdentifiers(_ value: BSON?) throws(EventRefusal) -> [String: String] {
        guard let value, value != .null else { return [:] }
        let field = "data.identifiers"
        guard case .document(let document) = value else {
            throw .wrongType(field, found: Self.kindName(value), expected: "an object of identifier names to values, e.g. {\"email\": \"…\"}")
        }
        guard document.count <= Self.maximumIdentifiers else {
            throw EventRefusal(reason: .tooManyIdentities, field: field,
                               message: "\(field) has more than \(Self.maximumIdentifiers) entries; expected at most \(Self.maximumIdentifiers) identifiers per event")
        }
        var identifiers: [String: String] = [:]
        for (name, entry) in document {
            guard MatchSource.isValidName(name) else {
                throw .undeclaredIdentifier(field, name: nil, declared: options.declaredIdentifiers)
            }
            guard options.declaredIdentifiers.contains(name) else {
                throw .undeclaredIdentifier(field, name: name, declared: options.declaredIdentifiers)
            }
            identifiers[name] = try plainId(entry, field: "\(field).\(name)", expected: "the user's \(name)")
        }
        return identifiers
    }

    /// The declared identifiers found in App Services' `user.data` (`email`); nothing
    /// else of it is read, and nothing at all when no policy declares identifiers.
    func appServicesIdentifiers(_ data: BSONDocument?) throws(EventRefusal) -> [String: String] {
        guard let data, !options.declaredIdentifiers.isEmpty else { return [:] }
        var identifiers: [String: String] = [:]
        for name in options.declaredIdentifiers {
            guard let value = data[name], value != .null else { continue }
            identifiers[name] = try plainId(value, field: "user.data.\(name)", expected: "the user's \(name)")
        }
        return identifiers
    }

    // MARK: Fields

    /// A user or identity id: a non-empty string that passes `SubjectBinding.checkPlain`.
    /// Anything else (an object such as `{"$ne": ""}`, an array, a number) is refused,
    /// never converted.
    func plainId(_ value: BSON?, field: String, expected: String) throws(EventRefusal) -> String {
        switch value {
        case nil: throw .missing(field, expected: expected)
        case .null?: throw .null(field, expected: expected)
        case .string("")?: throw .empty(field, expected: expected)
        case .string(let text)?:
            do throws(SubjectError) {
                try SubjectBinding.checkPlain(text, which: field)
            } catch {
                throw .notPlain(error, field: field)
            }
            return text
        case let other?: throw .idNotString(field, found: Self.kindName(other))
        }
    }

    /// `identities`: absent or null for none, else an array of at most
    /// `options.maximumIdentities` ids, each a string or an object `{id, provider_type?}`.
    /// Duplicates are dropped; order is kept.
    func identityList(_ value: BSON?, field: String) throws(EventRefusal) -> (ids: [String], providers: [String]) {
        guard let value, value != .null else { return ([], []) }
        guard case .array(let elements) = value else {
            throw .wrongType(field, found: Self.kindName(value), expected: "an array of identities")
        }
        guard elements.count <= options.maximumIdentities else {
            throw .tooManyIdentities(field, maximum: options.maximumIdentities)
        }
        var ids: [String] = []
        var providers: [String] = []
        for (index, element) in elements.enumerated() {
            let path = "\(field)[\(index)]"
            switch element {
            case .string:
                ids.append(try plainId(element, field: path, expected: "the identity's id"))
            case .document(let identity):
                ids.append(try plainId(identity["id"], field: "\(path).id", expected: "the identity's id"))
                if let provider = identity["provider_type"] { providers += Self.plainNames([provider]) }
            default:
                throw .idNotString(path, found: Self.kindName(element))
            }
        }
        return (Self.unique(ids), Self.unique(providers))
    }

    /// `time`, as exact milliseconds; nil when absent and not required.
    func time(_ value: BSON?, field: String, required: Bool) throws(EventRefusal) -> Int64? {
        switch value {
        case nil, .null?:
            guard required else { return nil }
            let expected = "the time of the event: \(EventRefusal.timeExpectation)"
            throw value == nil ? .missing(field, expected: expected) : .null(field, expected: expected)
        case let value?:
            guard let milliseconds = EventTime.milliseconds(from: value) else {
                switch value {
                case .string, .document: throw .badTime(field, found: nil)
                default: throw .badTime(field, found: Self.kindName(value))
                }
            }
            return milliseconds
        }
    }

    /// A CloudEvents `id` or `source`: a non-empty string of at most 1,024 bytes (UTF-8)
    /// without control characters, so that `source`, a zero byte and `id` can only be
    /// read one way in the dedupe key.
    func attribute(_ value: BSON?, field: String, expected: String) throws(EventRefusal) -> String {
        switch value {
        case nil: throw .missing(field, expected: expected)
        case .null?: throw .null(field, expected: expected)
        case .string("")?: throw .empty(field, expected: expected)
        case .string(let text)?:
            let rule = "\(expected), of at most \(Self.maximumAttributeLength) bytes (UTF-8) without control characters"
            guard text.utf8.count <= Self.maximumAttributeLength else {
                throw EventRefusal(reason: .notPlainId, field: field, message: "\(field) is longer than \(Self.maximumAttributeLength) bytes (UTF-8); expected \(rule)")
            }
            guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw EventRefusal(reason: .notPlainId, field: field, message: "\(field) contains control characters; expected \(rule)")
            }
            return text
        case let other?: throw .wrongType(field, found: Self.kindName(other), expected: "\(expected), as a string")
        }
    }

    /// An event type: a string that is a plain name (see `isPlainName`).
    func plainName(_ value: BSON?, field: String, expected: String) throws(EventRefusal) -> String {
        switch value {
        case nil: throw .missing(field, expected: expected)
        case .null?: throw .null(field, expected: expected)
        case .string("")?: throw .empty(field, expected: expected)
        case .string(let text)?:
            guard Self.isPlainName(text) else { throw .typeNotPlain(field, expected: expected) }
            return text
        case let other?: throw .wrongType(field, found: Self.kindName(other), expected: "\(expected), as a string")
        }
    }

    /// 1 to 128 ASCII letters, digits and `. _ - : / +`: what event and provider types
    /// are made of, and nothing that could carry an email or a sentence.
    static func isPlainName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= maximumNameLength && text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: ":"),
                 UInt8(ascii: "/"), UInt8(ascii: "+"):
                true
            default:
                false
            }
        }
    }

    /// The strings among `values` that are plain names, once each, in order. Provider
    /// types are informational: others are left out rather than refused.
    static func plainNames(_ values: [BSON]) -> [String] {
        unique(values.compactMap { $0.stringValue }.filter(isPlainName))
    }

    static func unique(_ values: [String]) -> [String] {
        var seen = Set<String>()
        return values.filter { seen.insert($0).inserted }
    }
}
