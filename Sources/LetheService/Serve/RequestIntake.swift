import BSON
import Foundation
import LetheCore

/// Turns deletion events into requests: parses them (App Services authentication
/// events, CloudEvents), records each accepted deletion as a request (the same event
/// twice is one request), records each refusal with its reason, and acknowledges other
/// event types. Everything of one delivery is stored in a few round trips.
///
/// Dedupe keys are keyed (HMAC-SHA256) with the subject key, as docs/events.md says:
/// a parser given without `dedupeSecret` gets the state store's `subjectKey()`, read
/// once per intake, so that a stored key never reveals which user and time it stands for.
public struct RequestIntake: EventIntake, DocumentIntake {
    let engine: ErasureEngine
    let parser: DeletionEventParser
    let keys: DedupeKeyCache

    public init(engine: ErasureEngine, parser: DeletionEventParser = DeletionEventParser()) {
        self.engine = engine
        self.parser = parser
        self.keys = DedupeKeyCache(state: engine.state)
    }

    public func receive(_ body: [UInt8], channel: Channel) async throws -> IntakeSummary {
        try await take(keyedParser().parse(json: Data(body)), channel: channel)
    }

    public func receive(documents: [BSONDocument], channel: Channel) async throws -> IntakeSummary {
        let parser = try await keyedParser()
        return try await take(documents.map(parser.parse(document:)), channel: channel)
    }

    /// The parser, with the subject key as its dedupe key unless it was given one.
    /// It also reads the identifiers the policies declare, and only those.
    func keyedParser() async throws -> DeletionEventParser {
        var keyed = parser
        if keyed.options.declaredIdentifiers.isEmpty { keyed.options.declaredIdentifiers = engine.declaredIdentifiers }
        guard parser.options.dedupeSecret == nil else { return keyed }
        keyed.options.dedupeSecret = try await keys.key()
        return keyed
    }

    func take(_ parsed: [ParsedEvent], channel: Channel) async throws -> IntakeSummary {
        var summary = IntakeSummary()
        var refusals: [IntakeRefusal] = []
        var arrivals: [RequestAdmission.Arrival] = []
        var positions: [Int] = []
        let now = Date()
        for (position, item) in parsed.enumerated() {
            switch item {
            case .refused(let refusal):
                refusals.append(IntakeRefusal(refusal, channel: channel, at: now))
                summary.refused.append(.init(position: position, code: refusal.code, field: refusal.field, message: refusal.description))
            case .accepted(let event):
                guard let subject = event.subject else {
                    summary.ignored += 1
                    continue
                }
                arrivals.append(.init(subject: subject, dedupeKey: event.dedupeKey, source: channel, reason: "deletion event (\(event.source))"))
                positions.append(position)
            }
        }
        for (result, position) in zip(try await engine.admission.receiveAll(arrivals), positions) {
            switch result {
            case .success(let admitted):
                summary.accepted.append(.init(requestId: admitted.request.id, duplicate: !admitted.isNew))
            case .failure(let error):
                // The ids are plain but do not fit a policy's idType (an ObjectId policy
                // and a non-hex id): refused, like any other bad event.
                let refusal = IntakeRefusal(at: now, channel: channel, code: "id-does-not-fit-policy", field: "user.id", message: error.description)
                refusals.append(refusal)
                summary.refused.append(.init(position: position, code: refusal.code, field: refusal.field, message: refusal.message))
            }
        }
        try await record(refusals)
        return summary
    }

    public func record(_ refusals: [IntakeRefusal]) async throws {
        guard !refusals.isEmpty else { return }
        try await engine.state.saveRefusals(refusals)
        try await engine.state.appendAudit(refusals.map {
            AuditEntry(at: $0.at, event: .refused, channel: $0.channel, note: "\($0.code)\($0.field.map { " (\($0))" } ?? "")")
        })
    }
}

/// The subject key, read from the state store once and kept.
actor DedupeKeyCache {
    let state: any StateStore
    var cached: SecretKey?

    init(state: any StateStore) { self.state = state }

    func key() async throws -> SecretKey {
        if let cached { return cached }
        let key = try await state.subjectKey()
        cached = key
        return key
    }
}
