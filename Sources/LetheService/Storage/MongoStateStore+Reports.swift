import BSON
import Foundation
import LetheCore
import MongoKit

/// What the period reports read: by date range, never "the newest N", so that
/// nothing in a period is silently left out.
extension MongoStateStore {
    var policyHistory: MongoCollection { database.collection("policies") }

    /// Remembers each policy version the first time a worker runs with it (the
    /// report's "policies in force, and when each changed"). Idempotent.
    public func recordPolicies(_ policies: [PolicyReference], at date: Date) async throws {
        guard !policies.isEmpty else { return }
        // Epoch milliseconds rather than a date: `$setOnInsert` of a date is stored as
        // text by the test server (docs/test-server.md), a number compares the same everywhere.
        let at = BSON.int64(BSONDatetime(date).millisecondsSinceEpoch)
        try await policyHistory.bulkWrite(policies.map { policy in
            .updateOne(
                filter: ["_id": .string(policy.fingerprint)],
                update: ["$setOnInsert": ["name": .string(policy.name), "firstSeenMilliseconds": at]],
                options: UpdateOptions(upsert: true)
            )
        }, ordered: false)
    }

    /// Everything a report of `period` needs: requests received in it (and every
    /// request still open, so that overdue ones show), receipts, refusals and sweeps
    /// of the period, and the policy history.
    public func reportInputs(period: DateInterval) async throws -> ReportInputs {
        let range: BSONDocument = ["$gte": .datetime(BSONDatetime(period.start)), "$lt": .datetime(BSONDatetime(period.end))]
        let requests = try await self.requests.find(["$or": [["receivedAt": .document(range)], ["state": ["$ne": "done"]]]]).toArray()
            .map { try BSONCodable.decode(ErasureRequest.self, from: $0) }
        let receipts = try await self.receipts.find(["finishedAt": .document(range)]).toArray()
            .map { try BSONCodable.decode(Receipt.self, from: $0) }
        let refusals = try await self.refusals.find(["at": .document(range)]).toArray()
            .map { try BSONCodable.decode(IntakeRefusal.self, from: $0) }
        let sweeps = try await self.sweeps.find(["startedAt": .document(range)]).toArray()
            .map { try BSONCodable.decode(SweepReport.self, from: $0) }
        let history = try await policyHistory.find().toArray().compactMap { document -> PolicyHistoryEntry? in
            guard let fingerprint = document["_id"]?.stringValue, let name = document["name"]?.stringValue,
                  let ms = document["firstSeenMilliseconds"]?.int64Value else { return nil }
            return PolicyHistoryEntry(name: name, fingerprint: fingerprint, firstSeen: BSONDatetime(millisecondsSinceEpoch: ms).date)
        }
        let failures = try await audit.find(["event": .string(AuditEntry.Event.failed.rawValue), "at": .document(range)]).toArray()
            .compactMap { FailedAttempt(try BSONCodable.decode(AuditEntry.self, from: $0)) }
        return ReportInputs(requests: requests, receipts: receipts, refusals: refusals, sweeps: sweeps, policies: history, failures: failures)
    }

    public struct ReportInputs: Sendable {
        public var requests: [ErasureRequest]
        public var receipts: [Receipt]
        public var refusals: [IntakeRefusal]
        public var sweeps: [SweepReport]
        public var policies: [PolicyHistoryEntry]
        /// Failed attempts, from the audit trail.
        public var failures: [FailedAttempt]

        public func report(period: DateInterval, now: Date) -> ComplianceReport {
            ComplianceReport.build(
                period: period, requests: requests, refusals: refusals.map(RefusedIntake.init), receipts: receipts,
                policies: policies, sweeps: sweeps.map(SweepSummary.init), failures: failures, now: now
            )
        }
    }
}

/// What one `lethe run --once` did: counts only.
public struct RunReport: Sendable, Hashable, Codable {
    public var startedAt: Date
    public var finishedAt: Date
    public var worker: String
    public var processed: Int
    public var done: Int
    public var failed: Int
    public var waiting: Int
    public var eventsAccepted: Int
    public var eventsRefused: Int
    /// Documents by action.
    public var documents: [String: Int]

    public init(startedAt: Date, finishedAt: Date, worker: String, summary: QueueWorker.Summary, intake: IntakeCounts) {
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.worker = worker
        processed = summary.processed
        done = summary.count(.done)
        failed = summary.count(.failed)
        waiting = summary.count(.held) + summary.count(.needsApproval)
        eventsAccepted = intake.new
        eventsRefused = intake.refused
        documents = Dictionary(uniqueKeysWithValues: summary.documents.map { ($0.key.rawValue, $0.value) })
    }
}

extension MongoStateStore {
    var runs: MongoCollection { database.collection("runs") }

    public func saveRun(_ run: RunReport) async throws {
        try await runs.insertOne(try BSONCodable.encode(run))
    }

    /// Runs recorded, newest first.
    public func runReports(limit: Int = 100) async throws -> [RunReport] {
        try await runs.find([:], options: FindOptions(sort: ["startedAt": -1], limit: limit)).toArray()
            .map { try BSONCodable.decode(RunReport.self, from: $0) }
    }
}
