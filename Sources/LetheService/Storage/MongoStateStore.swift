import BSON
import Foundation
import LetheCore
import MongoKit
import Synchronization

/// Lethe's own records in the state database (default `lethe`):
/// `requests` (open and finished requests with per-rule progress), `receipts`,
/// `holds` (legal holds), `tombstones` (keyed HMACs of erased values) and `settings`
/// (the subject-pseudonym key, the schema version).
public struct MongoStateStore: RequestQueue, RecordStore, HoldStore, RetainedLedger, CheckpointStore, OrphanCandidateStore, SubjectKeySource,
    TombstoneStore {
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
    /// The subject key once read: it never changes after it is first stored, and every
    /// batch asks for it (tombstones, retained digests), one `find` each otherwise.
    private let subjectKeyRead = SubjectKeyCache()

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
    var tombstones: MongoCollection { database.collection("tombstones") }

    /// Creates the indexes the queries here rely on. Idempotent.
    public func prepare() async throws {
        // First: a state database of a newer version is refused before anything is written to it.
        try await recordSchemaVersion()
        // One command per collection: every process starts here.
        try await requests.createIndexes([
            IndexModel(["subjectPseudonym": 1, "state": 1]),
            IndexModel(["state": 1, "receivedAt": 1]),
            IndexModel([Self.availableAt: 1]),
            // A worker gives back its own leases at the start of each pass (after an
            // outage it could not give them back): only leased requests are in this index.
            IndexModel(["lease.owner": 1], options: IndexOptions(sparse: true)),
            // One request per event: sparse, so requests without a key (the CLI's) do not collide.
            IndexModel(["dedupeKey": 1], options: IndexOptions(unique: true, sparse: true)),
        ])
        try await holds.createIndex(["subjectPseudonym": 1])
        try await refusals.createIndex(["at": 1])
        try await audit.createIndexes([IndexModel(["requestId": 1, "at": 1]), IndexModel(["at": 1])])
        try await retainedGroups.createIndex(["dueAtMilliseconds": 1])
        try await batches.createIndex(["requestIds": 1])
        try await orphans.createIndex(["subjectPseudonym": 1], options: IndexOptions(unique: true))
        try await tombstones.createIndexes([IndexModel(["key": 1]), IndexModel(["erasedAtMilliseconds": 1])])
    }

    /// The shape of the records this version writes. Recorded in `settings` at every
    /// start, so that a later version finds where a migration has to begin; a state
    /// database written by a newer version is refused rather than misread.
    ///
    /// 2: `tombstones`. A Lethe of version 1 would finish requests without writing
    /// them, so it is refused on a state database that has them.
    public static let schemaVersion = 2

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
        if let key = subjectKeyRead.key.withLock({ $0 }) { return key }
        let key = try await storedSubjectKey()
        subjectKeyRead.key.withLock { $0 = key }
        return key
    }

    private func storedSubjectKey() async throws -> SecretKey {
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

/// Shared by the copies of one `MongoStateStore`.
private final class SubjectKeyCache: Sendable {
    let key = Mutex<SecretKey?>(nil)
}

