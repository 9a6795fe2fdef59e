import BSON
import Foundation
import LetheCore
import MongoKit

/// The ledger of retained documents whose `then` falls due later.
///
/// An entry holds the documents one call recorded for one request and rule (the
/// engine records 2,500 at a time), each with its own due date, and is due at the
/// earliest of them. One entry per document cost a ledger insert per retained
/// document, more than the retained documents' read (`docs/benchmarks.md`). The entry's id is made
/// of its request, rule and first document, so recording the same batch again (a
/// rerun after a crash) adds nothing; a rerun that reads in another order adds entries
/// that repeat documents of the same request, whose `then` (same token) changes
/// nothing the second time.
extension MongoStateStore {
    public func recordRetained(_ entries: [RetainedDocument]) async throws {
        guard !entries.isEmpty else { return }
        let groups = Dictionary(grouping: entries) { GroupKey(entry: $0) }
        let documents: [BSONDocument] = groups.keys.sorted { $0.ordering < $1.ordering }.map { key in
            let members = groups[key]!
            let dues = members.map { BSONDatetime($0.dueAt).millisecondsSinceEpoch }
            var document: BSONDocument = ["_id": .string(key.ledgerId(first: members[0].documentId))]
            document["requestId"] = .string(key.requestId)
            document["policy"] = .string(key.policy)
            document["ruleIndex"] = .int32(Int32(key.ruleIndex))
            document["database"] = .string(key.namespace.database)
            document["collection"] = .string(key.namespace.collection)
            if let token = key.token { document["token"] = .string(token) }
            document["dueAtMilliseconds"] = .int64(dues.min()!)
            document["documentIds"] = .array(members.map(\.documentId))
            document["documentDueAtMilliseconds"] = .array(dues.map { .int64($0) })
            return document
        }
        do {
            try await retainedGroups.insertMany(documents, ordered: false)
        } catch let error as MongoError where error.code == .duplicateKey && error.writeErrors.allSatisfy({ $0.code == 11000 }) {
            // Recorded by an earlier run of the same request: unordered, the rest went in.
        }
    }

    /// Up to about `limit` due documents (whole entries are read, so a few more).
    public func dueRetained(at date: Date, limit: Int) async throws -> [RetainedDocument] {
        let cutoff = BSONDatetime(date).millisecondsSinceEpoch
        let filter: BSONDocument = ["dueAtMilliseconds": ["$lte": .int64(cutoff)]]
        var due: [RetainedDocument] = []
        let cursor = try await retainedGroups.find(filter, options: FindOptions(sort: ["dueAtMilliseconds": 1], batchSize: 100))
        for try await entry in cursor {
            due += Self.retainedDocuments(inGroup: entry, dueBy: cutoff)
            if due.count >= limit { return due }
        }
        return due
    }

    /// Removes the documents whose `then` has been applied: an entry left empty goes,
    /// one with documents due later is rewritten to hold only those.
    public func forgetRetained(_ entries: [RetainedDocument]) async throws {
        var forgotten: [String: Set<BSON>] = [:]
        for entry in entries { if let id = entry.ledgerId?.stringValue { forgotten[id, default: []].insert(entry.documentId) } }
        guard !forgotten.isEmpty else { return }
        let stored = try await retainedGroups.find(["_id": ["$in": .array(forgotten.keys.sorted().map { .string($0) })]]).toArray()
        var emptied: [BSON] = []
        var rewrites: [WriteModel] = []
        for entry in stored {
            guard let id = entry["_id"]?.stringValue else { continue }
            let kept = zip(entry["documentIds"]?.arrayValue ?? [], entry["documentDueAtMilliseconds"]?.arrayValue ?? [])
                .filter { !(forgotten[id]?.contains($0.0) ?? false) }
            guard let next = kept.compactMap({ $0.1.int64Value }).min() else {
                emptied.append(.string(id))
                continue
            }
            rewrites.append(.updateOne(filter: ["_id": .string(id)], update: ["$set": [
                "dueAtMilliseconds": .int64(next),
                "documentIds": .array(kept.map(\.0)),
                "documentDueAtMilliseconds": .array(kept.map(\.1)),
            ]]))
        }
        if !emptied.isEmpty { rewrites.append(.deleteMany(filter: ["_id": ["$in": .array(emptied)]])) }
        if !rewrites.isEmpty { _ = try await retainedGroups.bulkWrite(rewrites, ordered: false) }
    }

    /// The documents of one ledger entry that are due by `cutoff`.
    static func retainedDocuments(inGroup entry: BSONDocument, dueBy cutoff: Int64) -> [RetainedDocument] {
        guard let ledgerId = entry["_id"], let request = entry["requestId"]?.stringValue, let policy = entry["policy"]?.stringValue,
              let rule = entry["ruleIndex"]?.intValue, let database = entry["database"]?.stringValue,
              let collection = entry["collection"]?.stringValue,
              let ids = entry["documentIds"]?.arrayValue, let dues = entry["documentDueAtMilliseconds"]?.arrayValue else { return [] }
        let namespace = Namespace(database: database, collection: collection)
        return zip(ids, dues).compactMap { id, due in
            guard let due = due.int64Value, due <= cutoff else { return nil }
            return RetainedDocument(requestId: request, policy: policy, ruleIndex: rule, namespace: namespace, documentId: id,
                                    dueAt: BSONDatetime(millisecondsSinceEpoch: due).date, token: entry["token"]?.stringValue,
                                    ledgerId: ledgerId)
        }
    }

    /// What one ledger entry is about.
    private struct GroupKey: Hashable {
        var requestId: String
        var policy: String
        var ruleIndex: Int
        var namespace: Namespace
        var token: String?

        init(entry: RetainedDocument) {
            (requestId, policy, ruleIndex, namespace, token) = (entry.requestId, entry.policy, entry.ruleIndex, entry.namespace, entry.token)
        }

        var ordering: String { "\(requestId)|\(policy)#\(ruleIndex)|\(namespace)" }

        /// Request, rule and the first document's id (type and value: 1 and "1" differ).
        func ledgerId(first: BSON) -> String {
            let wrapped: BSONDocument = ["id": first]
            return "\(ordering)|\(first.typeByte)|\(wrapped.extendedJSON(.canonical))"
        }
    }
}
