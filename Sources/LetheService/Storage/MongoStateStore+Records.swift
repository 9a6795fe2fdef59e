import BSON
import Foundation
import LetheCore
import MongoKit

/// Receipts, the audit trail, refusals and sweeps (`RecordStore`), and what `lethe`
/// reads back of them.
extension MongoStateStore {
    public func saveReceipts(_ batch: [Receipt]) async throws {
        let models: [WriteModel] = try batch.map { receipt in
            var document: BSONDocument = ["_id": .string(receipt.requestId)]
            for (key, value) in try BSONCodable.encode(receipt) { document.append(key, value) }
            return .replaceOne(filter: ["_id": .string(receipt.requestId)], replacement: document, upsert: true)
        }
        try await receipts.bulkWrite(models, ordered: false)
    }

    public func saveRefusals(_ batch: [IntakeRefusal]) async throws {
        guard !batch.isEmpty else { return }
        try await refusals.insertMany(try batch.map { refusal in
            var document: BSONDocument = ["_id": .string(refusal.id)]
            for (key, value) in try BSONCodable.encode(refusal) { document.append(key, value) }
            return document
        }, ordered: false)
    }

    public func appendAudit(_ entries: [AuditEntry]) async throws {
        guard !entries.isEmpty else { return }
        try await audit.insertMany(try entries.map { try BSONCodable.encode($0) }, ordered: false)
    }

    /// The audit trail, oldest first: of one request, or of a period.
    public func auditTrail(requestId: String? = nil, period: DateInterval? = nil, limit: Int = 10_000) async throws -> [AuditEntry] {
        var filter: BSONDocument = [:]
        if let requestId { filter["requestId"] = .string(requestId) }
        if let period {
            filter["at"] = ["$gte": .datetime(BSONDatetime(period.start)), "$lt": .datetime(BSONDatetime(period.end))]
        }
        return try await audit.find(filter, options: FindOptions(sort: ["at": 1], limit: limit)).toArray()
            .map { try BSONCodable.decode(AuditEntry.self, from: $0) }
    }

    public func saveSweep(_ sweep: SweepReport) async throws {
        try await sweeps.insertOne(try BSONCodable.encode(sweep))
    }

    /// Sweeps recorded, newest first.
    public func sweeps(limit: Int = 100) async throws -> [SweepReport] {
        try await sweeps.find([:], options: FindOptions(sort: ["startedAt": -1], limit: limit)).toArray()
            .map { try BSONCodable.decode(SweepReport.self, from: $0) }
    }

    /// Refusals recorded at intake, newest first.
    public func refusals(limit: Int = 100) async throws -> [IntakeRefusal] {
        try await refusals.find([:], options: FindOptions(sort: ["at": -1], limit: limit)).toArray()
            .map { try BSONCodable.decode(IntakeRefusal.self, from: $0) }
    }

    public func receipt(requestId: String) async throws -> Receipt? {
        try await receipts.findOne(["_id": .string(requestId)]).map { try BSONCodable.decode(Receipt.self, from: $0) }
    }
}
