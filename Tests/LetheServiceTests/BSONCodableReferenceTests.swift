import BSON
import Foundation
@testable import LetheCore
@testable import LetheService
import MongoKit
import Testing

/// `BSONCodable` as it was before `BSONEncoder` and `BSONDecoder`: through JSON text and
/// Extended JSON. Kept as the reference the direct coder must match, field for field,
/// so that documents stored either way read and query alike.
enum LegacyJSONCoding {
    static func encode<T: Encodable>(_ value: T) throws -> BSONDocument {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.container(keyedBy: ExtendedKey.self)
            var inner = container.nestedContainer(keyedBy: ExtendedKey.self, forKey: .date)
            try inner.encode(String(BSONDatetime(date).millisecondsSinceEpoch), forKey: .numberLong)
        }
        let json = String(decoding: try encoder.encode(value), as: UTF8.self)
        return try BSONDocument(extendedJSON: json)
    }

    static func decode<T: Decodable>(_ type: T.Type, from document: BSONDocument) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.container(keyedBy: ExtendedKey.self)
            let inner = try container.nestedContainer(keyedBy: ExtendedKey.self, forKey: .date)
            let text = try inner.decode(String.self, forKey: .numberLong)
            guard let ms = Int64(text) else {
                throw DecodingError.dataCorruptedError(forKey: .numberLong, in: inner, debugDescription: "not a date")
            }
            return BSONDatetime(millisecondsSinceEpoch: ms).date
        }
        let json = try JSONSerialization.data(withJSONObject: plainJSON(.document(document)))
        return try decoder.decode(T.self, from: json)
    }

    static func plainJSON(_ value: BSON) -> Any {
        switch value {
        case .document(let document):
            var object: [String: Any] = [:]
            for (key, value) in document { object[key] = plainJSON(value) }
            return object
        case .array(let array): return array.map(plainJSON)
        case .string(let s), .symbol(let s), .javascript(let s): return s
        case .int32(let i): return Int(i)
        case .int64(let i): return Int(i)
        case .double(let d): return d
        case .bool(let b): return b
        case .datetime(let d): return ["$date": ["$numberLong": String(d.millisecondsSinceEpoch)]]
        case .objectId(let o): return o.hex
        case .decimal128(let d): return d.text
        case .binary(let b): return b.uuid?.uuidString ?? b.data.map { String(format: "%02x", $0) }.joined()
        case .null, .undefined, .minKey, .maxKey, .regex, .timestamp: return NSNull()
        }
    }

    private enum ExtendedKey: String, CodingKey {
        case date = "$date"
        case numberLong = "$numberLong"
    }
}

/// Lethe's stored records, with every optional field of each filled in at least once
/// and dates at millisecond precision (what BSON keeps).
enum StoredRecords {
    static let receivedAt = at(0)

    /// `milliseconds` after 2023-11-14T22:13:20.123Z, exactly as a BSON datetime keeps it.
    static func at(_ milliseconds: Int64) -> Date { BSONDatetime(millisecondsSinceEpoch: 1_700_000_000_123 + milliseconds).date }

    static func request(rules: Int = 3) -> ErasureRequest {
        var request = ErasureRequest(
            id: "req_20231114T221320_0a1b2c", subjectPseudonym: "p_4f2a", subject: ErasureSubject(userId: "u-1", identities: ["a@example.com", "ext|9"]),
            source: .inbox, reason: "user asked", receivedAt: receivedAt, dueAt: at(30 * 86_400_000),
            policies: [PolicyReference(name: "todo-app", fingerprint: "sha256:abc"), PolicyReference(name: "billing", fingerprint: "sha256:def")]
        )
        request.state = .running
        request.approved = true
        request.startedAt = at(1_500)
        request.attempts = 2
        request.dedupeKey = "evt-1"
        request.note = "resumed"
        request.lease = Lease(owner: "worker-1", expiresAt: at(60_000))
        request.rules = (0..<rules).map { index in
            var progress = RuleProgress(policy: "todo-app", ruleIndex: index, namespace: "todo.items", action: index == 1 ? .retain : .delete)
            progress.stage = [.verified, .applied, .verificationFailed][index % 3]
            progress.matched = 4 + index
            progress.planned = 4
            progress.deleted = index == 1 ? 0 : 4
            progress.modified = 1 << 33  // beyond int32: int64
            progress.retained = index == 1 ? 2 : 0
            if index == 1 {
                progress.retainReason = "tax records"
                progress.retainedUntil = at(365 * 86_400_000)
            }
            progress.remaining = index == 2 ? 1 : nil
            return progress
        }
        return request
    }

    static func finished() -> ErasureRequest {
        var request = request()
        request.state = .done
        request.finishedAt = at(9_876)
        request.subject = nil
        request.lease = nil
        return request
    }

    static func checkpoint() -> BatchCheckpoint {
        var checkpoint = BatchCheckpoint(id: "batch_1", requestIds: ["req_a", "req_20231114T221320_0a1b2c"], startedAt: receivedAt)
        checkpoint.record(rule: 1, of: [request()])
        return checkpoint
    }

    static func sweep() -> SweepReport {
        SweepReport(
            kind: .orphans, dryRun: true, startedAt: receivedAt, finishedAt: at(2_000),
            rules: [SweepReport.Rule(policy: "todo-app", ruleIndex: 0, namespace: "todo.items", action: .delete, matched: 3, deleted: 0, modified: 0, users: 2)],
            orphans: SweepReport.Orphans(linked: 10, orphans: 3, waiting: 1, alreadyRequested: 1, requested: 0, refused: 1, refusal: "over limit")
        )
    }

    static func run() -> RunReport {
        var summary = QueueWorker.Summary()
        summary.states = [.done: 1, .failed: 1, .held: 1]
        summary.documents = [.delete: 12, .anonymize: 3]
        let intake = IntakeSummary(accepted: [.init(requestId: "req_a", duplicate: false)], refused: [.init(position: 1, code: "missing-field", field: "userId", message: "no user id")])
        return RunReport(startedAt: receivedAt, finishedAt: at(3_000), worker: "worker-1", summary: summary, intake: IntakeCounts(intake))
    }
}

@Suite("BSONCodable matches the JSON path it replaced")
struct BSONCodableReferenceTests {
    /// Each record stored both ways: the same fields with the same values, and each way
    /// reads the other's. Field order is left out of the comparison: JSONEncoder on
    /// Linux writes an object's keys in hash order, which changes from one process to the
    /// next, so no stored document or query could rely on it (the direct coder keeps
    /// declaration order). None of these records holds a `Double`: the one shape that
    /// differs (an integral double, an int32 on the JSON path) is `integralDouble` below.
    private func check<T: Codable & Equatable>(_ value: T, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        let direct = try BSONCodable.encode(value)
        let legacy = try LegacyJSONCoding.encode(value)
        #expect(Self.sortingKeys(.document(direct)) == Self.sortingKeys(.document(legacy)), sourceLocation: sourceLocation)
        #expect(try BSONCodable.decode(T.self, from: legacy) == value, sourceLocation: sourceLocation)
        #expect(try LegacyJSONCoding.decode(T.self, from: direct) == value, sourceLocation: sourceLocation)
    }

    /// `value` with the keys of every document in it sorted.
    private static func sortingKeys(_ value: BSON) -> BSON {
        switch value {
        case .document(let document): .document(BSONDocument(document.sorted { $0.key < $1.key }.map { ($0.key, sortingKeys($0.value)) }))
        case .array(let array): .array(array.map(sortingKeys))
        default: value
        }
    }

    @Test("an open request with its subject, lease and rule progress")
    func openRequest() throws { try check(StoredRecords.request()) }

    @Test("a finished request, its receipt and its closing audit entry")
    func finishedRequest() throws {
        let request = StoredRecords.finished()
        try check(request)
        try check(Receipt(request: request, finishedAt: request.finishedAt!))
        try check(AuditEntry.closing(request, at: StoredRecords.receivedAt))
        try check(AuditEntry.about(request, .held, at: StoredRecords.receivedAt, note: "hold_1"))
    }

    @Test("a hold, a lease, a refusal, a checkpoint, a sweep and a run")
    func otherRecords() throws {
        try check(LegalHold(id: "hold_1", subjectPseudonym: "p_4f2a", reason: "case 12", createdAt: StoredRecords.receivedAt))
        try check(Lease(owner: "worker-1", expiresAt: StoredRecords.receivedAt))
        try check(IntakeRefusal(at: StoredRecords.receivedAt, channel: .http, code: "not-plain-id", field: "data.userId", message: "not a plain id"))
        try check(StoredRecords.checkpoint())
        try check(StoredRecords.sweep())
        try check(StoredRecords.run())
    }

    @Test("the one difference: an integral Double is a double now, an int32 on the JSON path; both read back")
    func integralDouble() throws {
        struct Ratio: Codable, Equatable { var value: Double }
        #expect(try BSONCodable.encode(Ratio(value: 2)) == ["value": .double(2)])
        #expect(try LegacyJSONCoding.encode(Ratio(value: 2)) == ["value": .int32(2)])
        #expect(try BSONCodable.decode(Ratio.self, from: ["value": .int32(2)]) == Ratio(value: 2))
        try check(Ratio(value: 2.5))
    }

    @Test("values only the JSON path's reader turned into strings or nils still read so")
    func lenientReads() throws {
        struct Loose: Codable, Equatable { var id: String; var amount: String; var gone: Int? }
        let document: BSONDocument = [
            "id": .objectId(BSONObjectId("5f1a2b3c4d5e6f7a8b9c0d1e")!), "amount": .decimal128(BSONDecimal128(text: "12.50")!), "gone": .undefined,
        ]
        #expect(try BSONCodable.decode(Loose.self, from: document) == LegacyJSONCoding.decode(Loose.self, from: document))
    }
}
