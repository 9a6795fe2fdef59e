import BSON
import Foundation
import LetheCore
import MongoKit

/// Lethe's own records in the state database (default `lethe`):
/// `requests` (open and finished requests with per-rule progress), `receipts`,
/// `holds` (legal holds) and `settings` (the subject-pseudonym key).
public struct MongoStateStore: RequestQueue, RecordStore, HoldStore, RetainedLedger, CheckpointStore, OrphanCandidateStore, SubjectKeySource {
    public struct Options: Sendable {
        /// The state database. Default "lethe".
        public var database: String
        /// The key for subject pseudonyms. Default nil: generated once and kept in
        /// `settings`; set LETHE_SUBJECT_KEY to keep it outside the database instead.
        public var subjectKey: SecretKey?

        public init(database: String = "lethe", subjectKey: SecretKey? = nil) {
            self.database = database
            self.subjectKey = subjectKey
        }
    }

    public let pool: MongoClientPool
    public let options: Options

    public init(pool: MongoClientPool, options: Options = Options()) {
        self.pool = pool
        self.options = options
    }

    var database: MongoDatabase { pool.database(options.database) }
    var requests: MongoCollection { database.collection("requests") }
    var receipts: MongoCollection { database.collection("receipts") }
    var holds: MongoCollection { database.collection("holds") }
    var settings: MongoCollection { database.collection("settings") }
    var refusals: MongoCollection { database.collection("refusals") }
    var sweeps: MongoCollection { database.collection("sweeps") }
    var audit: MongoCollection { database.collection("audit") }
    /// The retained-documents ledger: one entry per request, rule and up to 2,500 documents.
    var retainedGroups: MongoCollection { database.collection("retainedGroups") }
    var batches: MongoCollection { database.collection("batches") }
    var orphans: MongoCollection { database.collection("orphans") }

    /// Creates the indexes the queries here rely on. Idempotent.
    public func prepare() async throws {
        try await requests.createIndex(["subjectPseudonym": 1, "state": 1])
        try await requests.createIndex(["state": 1, "receivedAt": 1])
        try await requests.createIndex([Self.availableAt: 1])
        // A worker gives back its own leases at the start of each pass (after an outage
        // it could not give them back): only leased requests are in this index.
        try await requests.createIndex(["lease.owner": 1], options: IndexOptions(sparse: true))
        try await recordSchemaVersion()
        try await holds.createIndex(["subjectPseudonym": 1])
        // One request per event: sparse, so requests without a key (the CLI's) do not collide.
        try await requests.createIndex(["dedupeKey": 1], options: IndexOptions(unique: true, sparse: true))
        try await refusals.createIndex(["at": 1])
        try await audit.createIndex(["requestId": 1, "at": 1])
        try await audit.createIndex(["at": 1])
        try await retainedGroups.createIndex(["dueAtMilliseconds": 1])
        try await batches.createIndex(["requestIds": 1])
        try await orphans.createIndex(["subjectPseudonym": 1], options: IndexOptions(unique: true))
    }

    /// The shape of the records this version writes. Recorded in `settings` at every
    /// start, so that a later version finds where a migration has to begin; a state
    /// database written by a newer version is refused rather than misread.
    public static let schemaVersion = 1

    func recordSchemaVersion() async throws {
        let id: BSON = "schema"
        if let stored = try await settings.findOne(["_id": id])?["version"]?.intValue {
            guard stored <= Self.schemaVersion else { throw StateSchemaTooNew(found: stored, supported: Self.schemaVersion, database: options.database) }
            if stored == Self.schemaVersion { return }
        }
        try await settings.bulkWrite([.replaceOne(filter: ["_id": id], replacement: ["_id": id, "version": .int32(Int32(Self.schemaVersion))], upsert: true)])
    }

    public func subjectKey() async throws -> SecretKey {
        if let key = options.subjectKey { return key }
        if let stored = try await settings.findOne(["_id": "subject-key"]), let text = stored["key"]?.stringValue {
            return try SecretKey(text: text)
        }
        let fresh = randomHex(bytes: 32)
        do {
            try await settings.insertOne(["_id": "subject-key", "key": .string(fresh), "createdAt": .datetime(BSONDatetime(Date()))])
        } catch let error as MongoError where error.code == .duplicateKey {
            // Another worker made it first: use theirs.
        }
        guard let text = try await settings.findOne(["_id": "subject-key"])?["key"]?.stringValue else {
            throw MongoError(code: .commandFailed, operation: "subjectKey", namespace: settings.namespace, message: "the subject key could not be stored")
        }
        return try SecretKey(text: text)
    }

    public func request(id: String) async throws -> ErasureRequest? {
        try await requests.findOne(["_id": .string(id)]).map { try BSONCodable.decode(ErasureRequest.self, from: $0) }
    }

    /// Requests, newest first, optionally only those in `states`.
    public func requests(states: [ErasureRequest.State]? = nil, limit: Int = 100) async throws -> [ErasureRequest] {
        let filter: BSONDocument = states.map { ["state": ["$in": .array($0.map { .string($0.rawValue) })]] } ?? [:]
        return try await requests.find(filter, options: FindOptions(sort: ["receivedAt": -1], limit: limit)).toArray()
            .map { try BSONCodable.decode(ErasureRequest.self, from: $0) }
    }

    /// The request as stored, with its queue key (below).
    private func stored(_ request: ErasureRequest) throws -> BSONDocument {
        var document: BSONDocument = ["_id": .string(request.id)]
        for (key, value) in try BSONCodable.encode(request) { document.append(key, value) }
        document[Self.availableAt] = .int64(Self.availableAt(request))
        return document
    }

    /// The queue's key: from when a claim may take the request, in epoch milliseconds:
    /// its lease's expiry while leased, else when it was received (or now, if that is
    /// later); `never` once it is done, failed or waiting for approval. A claim is then
    /// one range on one index, where a filter on the state and the lease needed an `$or`
    /// that no server serves from one index (the test server answers it by reading
    /// every request: docs/benchmarks.md).
    static let availableAt = "availableAtMilliseconds"
    static let never = Int64.max

    static func availableAt(_ request: ErasureRequest) -> Int64 {
        guard request.state.isClaimable else { return never }
        if let lease = request.lease { return lease.expiresAtMilliseconds }
        return min(BSONDatetime(request.receivedAt).millisecondsSinceEpoch, BSONDatetime(Date()).millisecondsSinceEpoch)
    }

    /// The fields that move a held lease's expiry, and the queue key with it.
    static func leaseExtended(to expiresAtMilliseconds: Int64) -> BSONDocument {
        ["lease.expiresAtMilliseconds": .int64(expiresAtMilliseconds), availableAt: .int64(expiresAtMilliseconds)]
    }

    /// Replaces the stored requests in one round trip. A leased request is saved only
    /// while its lease is still its owner's: a worker whose lease expired and was taken
    /// over stops here (`LeaseLost`).
    public func saveAll(_ batch: [ErasureRequest], releasingLeases: Bool) async throws {
        guard !batch.isEmpty else { return }
        let models: [WriteModel] = try batch.map { request in
            var filter: BSONDocument = ["_id": .string(request.id)]
            if let lease = request.lease { filter["lease.owner"] = .string(lease.owner) }
            var saved = request
            if releasingLeases { saved.lease = nil }
            return .replaceOne(filter: filter, replacement: try stored(saved), upsert: request.lease == nil)
        }
        let result = try await requests.bulkWrite(models, ordered: false)
        let leased = batch.filter { $0.lease != nil }
        if !leased.isEmpty, result.matchedCount + result.upsertedCount < batch.count {
            // Some lease was taken over: find which. A request this save released has
            // no lease left, like one another worker finished: its attempt tells them apart.
            for request in leased {
                let current = try await self.request(id: request.id)
                let ours = releasingLeases
                    ? current?.lease == nil && current?.attempts == request.attempts && current?.state == request.state
                    : current?.lease?.owner == request.lease?.owner
                if !ours { throw LeaseLost(requestId: request.id) }
            }
        }
    }

    public func markStarted(requestIds: [String], lease: Lease?) async throws {
        guard !requestIds.isEmpty else { return }
        var filter: BSONDocument = ["_id": ["$in": .array(requestIds.map { .string($0) })]]
        var set = lease.map { Self.leaseExtended(to: $0.expiresAtMilliseconds) } ?? [:]
        set["state"] = .string(ErasureRequest.State.running.rawValue)
        if let lease { filter["lease.owner"] = .string(lease.owner) }
        let result = try await requests.updateMany(filter, ["$set": .document(set), "$inc": ["attempts": 1], "$unset": ["note": ""]])
        if let lease, result.matchedCount < requestIds.count { throw try await leaseLost(among: requestIds, owner: lease.owner) }
    }

    /// Which of these requests `owner` no longer holds, as the error to throw.
    private func leaseLost(among requestIds: [String], owner: String) async throws -> LeaseLost {
        let held = Set(try await requests.find(
            ["_id": ["$in": .array(requestIds.map { .string($0) })], "lease.owner": .string(owner)],
            options: FindOptions(projection: ["_id": 1])
        ).toArray().compactMap { $0["_id"]?.stringValue })
        return LeaseLost(requestId: requestIds.first { !held.contains($0) } ?? requestIds[0])
    }

    // A checkpoint is stored with `applied` as a sub-document keyed by rule number, so
    // that each rule after the first is one `$set` of its own counts: the whole document
    // (a count per request per rule) grows with every rule, and encoding and sending it
    // again each time cost more than the write. (Keyed rather than `$push`ed: nx-27017
    // turns the documents of an array it pushes to into strings, docs/test-server.md.)
    public func saveCheckpoint(_ checkpoint: BatchCheckpoint) async throws {
        let id = BSON.string(checkpoint.id)
        if checkpoint.applied.count > 1, let newest = checkpoint.applied.last {
            let set = try await batches.updateOne(["_id": id], ["$set": ["applied.\(newest.rule)": .document(try BSONCodable.encode(newest))]])
            if set.matchedCount == 1 { return }
        }
        var header = checkpoint
        header.applied = []  // encoded below, keyed by rule
        var document: BSONDocument = ["_id": id]
        for (key, value) in try BSONCodable.encode(header) where key != "id" && key != "applied" { document.append(key, value) }
        var applied = BSONDocument()
        for rule in checkpoint.applied { applied[String(rule.rule)] = .document(try BSONCodable.encode(rule)) }
        document["applied"] = .document(applied)
        try await batches.bulkWrite([.replaceOne(filter: ["_id": id], replacement: document, upsert: true)])
    }

    public func checkpoints(requestIds: [String]) async throws -> [BatchCheckpoint] {
        guard !requestIds.isEmpty else { return [] }
        return try await batches.find(["requestIds": ["$in": .array(requestIds.map { .string($0) })]]).toArray().map { document in
            var decodable = document
            decodable["id"] = document["_id"]
            // Keyed by rule, as saved above.
            decodable["applied"] = .array(document["applied"]?.documentValue?.values ?? [])
            var checkpoint = try BSONCodable.decode(BatchCheckpoint.self, from: decodable)
            checkpoint.applied.sort { $0.rule < $1.rule }
            return checkpoint
        }
    }

    public func removeCheckpoint(id: String) async throws {
        try await batches.deleteOne(["_id": .string(id)])
    }

    public func renewLeases(requestIds: [String], to lease: Lease) async throws {
        guard !requestIds.isEmpty else { return }
        let result = try await requests.updateMany(
            ["_id": ["$in": .array(requestIds.map { .string($0) })], "lease.owner": .string(lease.owner)],
            ["$set": .document(Self.leaseExtended(to: lease.expiresAtMilliseconds))]
        )
        if result.matchedCount < requestIds.count { throw try await leaseLost(among: requestIds, owner: lease.owner) }
    }

    public func saveReceipts(_ batch: [Receipt]) async throws {
        let models: [WriteModel] = try batch.map { receipt in
            var document: BSONDocument = ["_id": .string(receipt.requestId)]
            for (key, value) in try BSONCodable.encode(receipt) { document.append(key, value) }
            return .replaceOne(filter: ["_id": .string(receipt.requestId)], replacement: document, upsert: true)
        }
        try await receipts.bulkWrite(models, ordered: false)
    }

    public func holds(among pseudonyms: [String]) async throws -> [String: String] {
        guard !pseudonyms.isEmpty else { return [:] }
        let found = try await holds.find(
            ["subjectPseudonym": ["$in": .array(pseudonyms.map { .string($0) })]],
            options: FindOptions(projection: ["subjectPseudonym": 1], sort: ["createdAt": 1])
        ).toArray()
        var holds: [String: String] = [:]
        for hold in found {
            guard let pseudonym = hold["subjectPseudonym"]?.stringValue, let id = hold["_id"]?.stringValue else { continue }
            if holds[pseudonym] == nil { holds[pseudonym] = id }
        }
        return holds
    }

    public func claimBatch(_ lease: Lease, limit: Int, excluding: [String], among: [String]?, now: Date) async throws -> [ErasureRequest] {
        var ready: BSONDocument = [Self.availableAt: ["$lte": .int64(BSONDatetime(now).millisecondsSinceEpoch)]]
        var ids = BSONDocument()
        if !excluding.isEmpty { ids["$nin"] = .array(excluding.map { .string($0) }) }
        if let among { ids["$in"] = .array(among.map { .string($0) }) }
        if !ids.isEmpty { ready["_id"] = .document(ids) }
        // Take those still free in one update, marked with a token of this claim, then
        // read back exactly the ones this claim won. Losing every candidate to another
        // worker is not "no work": look again while there were candidates.
        let leaseDocument = try BSONCodable.encode(lease)
        for _ in 0..<8 {
            // Both reads in one reply each (the default first batch is 101 documents).
            let candidates = try await requests.find(ready, options: FindOptions(projection: ["_id": 1], sort: [Self.availableAt: 1], limit: limit, batchSize: limit))
                .toArray().compactMap { $0["_id"] }
            guard !candidates.isEmpty else { return [] }
            let token = UUID().uuidString
            var take = ready
            take["_id"] = ["$in": .array(candidates)]  // within `ready`'s own `_id` terms
            let taken = try await requests.updateMany(take, ["$set": [
                "lease": .document(leaseDocument), "claim": .string(token), Self.availableAt: .int64(lease.expiresAtMilliseconds),
            ]])
            guard taken.modifiedCount > 0 else { continue }
            return try await requests.find(["claim": .string(token)], options: FindOptions(sort: ["receivedAt": 1], batchSize: limit)).toArray()
                .map { try BSONCodable.decode(ErasureRequest.self, from: $0) }
        }
        return []
    }

    public func requests(dedupeKeys: [String]) async throws -> [String: ErasureRequest] {
        guard !dedupeKeys.isEmpty else { return [:] }
        var found: [String: ErasureRequest] = [:]
        for document in try await requests.find(["dedupeKey": ["$in": .array(dedupeKeys.map { .string($0) })]]).toArray() {
            let request = try BSONCodable.decode(ErasureRequest.self, from: document)
            if let key = request.dedupeKey { found[key] = request }
        }
        return found
    }

    public func openRequests(subjectPseudonyms: [String]) async throws -> [String: ErasureRequest] {
        guard !subjectPseudonyms.isEmpty else { return [:] }
        var found: [String: ErasureRequest] = [:]
        let documents = try await requests.find(
            ["subjectPseudonym": ["$in": .array(subjectPseudonyms.map { .string($0) })], "state": ["$ne": "done"]],
            options: FindOptions(sort: ["receivedAt": 1])
        ).toArray()
        for document in documents {
            let request = try BSONCodable.decode(ErasureRequest.self, from: document)
            found[request.subjectPseudonym] = request
        }
        return found
    }

    public func insertAll(_ batch: [ErasureRequest]) async throws -> Set<String> {
        guard !batch.isEmpty else { return [] }
        do {
            try await requests.insertMany(try batch.map { try stored($0) }, ordered: false)
            return []
        } catch let error as MongoError where error.code == .duplicateKey {
            // Unordered: everything else went in. Report the collided keys.
            guard error.writeErrors.allSatisfy({ $0.code == 11000 }) else { throw error }
            return Set(error.writeErrors.compactMap { batch.indices.contains($0.index) ? batch[$0.index].dedupeKey : nil })
        }
    }

    public func saveRefusals(_ batch: [IntakeRefusal]) async throws {
        guard !batch.isEmpty else { return }
        try await refusals.insertMany(try batch.map { refusal in
            var document: BSONDocument = ["_id": .string(refusal.id)]
            for (key, value) in try BSONCodable.encode(refusal) { document.append(key, value) }
            return document
        }, ordered: false)
    }

    public func releaseAll(requestIds: [String]?, owner: String) async throws {
        if let requestIds, requestIds.isEmpty { return }
        var ours: BSONDocument = ["lease.owner": .string(owner)]
        if let requestIds { ours["_id"] = ["$in": .array(requestIds.map { .string($0) })] }
        // Claimable ones are free from now, behind what waits already; the others only
        // lose the lease.
        var claimable = ours
        claimable[Self.availableAt] = ["$lt": .int64(Self.never)]
        try await requests.updateMany(claimable, [
            "$set": [Self.availableAt: .int64(BSONDatetime(Date()).millisecondsSinceEpoch)],
            "$unset": ["lease": "", "claim": ""],
        ])
        try await requests.updateMany(ours, ["$unset": ["lease": "", "claim": ""]])
    }

    public func orphanCandidates(subjectPseudonyms: [String]) async throws -> [String: Date] {
        var seen: [String: Date] = [:]
        for chunk in stride(from: 0, to: subjectPseudonyms.count, by: 1_000).map({ subjectPseudonyms[$0..<min($0 + 1_000, subjectPseudonyms.count)] }) {
            let found = try await orphans.find(["subjectPseudonym": ["$in": .array(chunk.map { .string($0) })]]).toArray()
            for document in found {
                guard let pseudonym = document["subjectPseudonym"]?.stringValue,
                      let first = document["firstSeenMilliseconds"]?.int64Value else { continue }
                seen[pseudonym] = BSONDatetime(millisecondsSinceEpoch: first).date
            }
        }
        return seen
    }

    public func recordOrphanCandidates(_ subjectPseudonyms: [String], at date: Date) async throws {
        // Milliseconds, not dates: a date `$set` by an update is not a date on every
        // server (docs/test-server.md), and the grace period compares them.
        let at = BSON.int64(BSONDatetime(date).millisecondsSinceEpoch)
        if !subjectPseudonyms.isEmpty {
            try await orphans.bulkWrite(subjectPseudonyms.map { pseudonym in
                .updateOne(filter: ["subjectPseudonym": .string(pseudonym)],
                           update: ["$setOnInsert": ["firstSeenMilliseconds": at], "$set": ["lastSeenMilliseconds": at]],
                           options: UpdateOptions(upsert: true))
            }, ordered: false)
        }
        try await orphans.deleteMany(["lastSeenMilliseconds": ["$lt": at]])
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

    public func addHold(_ hold: LegalHold) async throws {
        var document: BSONDocument = ["_id": .string(hold.id)]
        for (key, value) in try BSONCodable.encode(hold) { document.append(key, value) }
        try await holds.insertOne(document)
    }

    public func holds() async throws -> [LegalHold] {
        try await holds.find([:], options: FindOptions(sort: ["createdAt": 1])).toArray()
            .map { try BSONCodable.decode(LegalHold.self, from: $0) }
    }

    public func removeHold(id: String) async throws -> Bool {
        try await holds.deleteOne(["_id": .string(id)]).deletedCount == 1
    }
}

/// The state database was written by a newer Lethe: reading it with this one could
/// misread its records.
public struct StateSchemaTooNew: Error, Sendable, CustomStringConvertible {
    public let found: Int
    public let supported: Int
    public let database: String
    public var description: String {
        "the state database '\(database)' holds records of schema version \(found), newer than this Lethe reads (\(supported)); run the newer Lethe, or point --state-db at another database"
    }
}
