import BSON
import Foundation
import LetheCore
import MongoKit
import NIOConcurrencyHelpers

/// What `GET /metrics` shows, in Prometheus' text format: requests by state, queue
/// depth and oldest pending age (read from the state database at each scrape), and
/// this process's counters of documents by action, intake outcomes and errors.
public final class ServiceMetrics: Sendable {
    private struct Counters {
        var documents: [String: Int] = [:]
        var events: [String: Int] = [:]
        var errors = 0
        var sweeps = 0
    }

    private let counters = NIOLockedValueBox(Counters())
    let state: MongoStateStore

    public init(state: MongoStateStore) { self.state = state }

    public func record(_ summary: QueueWorker.Summary) {
        counters.withLockedValue { counters in
            for (action, count) in summary.documents { counters.documents[action.rawValue, default: 0] += count }
        }
    }

    public func record(_ intake: IntakeCounts) {
        counters.withLockedValue { counters in
            counters.events["accepted", default: 0] += intake.new
            counters.events["duplicate", default: 0] += intake.duplicates
            counters.events["ignored", default: 0] += intake.ignored
            counters.events["refused", default: 0] += intake.refused
        }
    }

    public func recordError() { counters.withLockedValue { $0.errors += 1 } }
    public func recordSweep() { counters.withLockedValue { $0.sweeps += 1 } }

    public func render(now: Date = Date()) async throws -> String {
        let byState = try await state.countsByState()
        let oldest = try await state.oldestPending()
        let snapshot = counters.withLockedValue { $0 }
        var lines: [String] = []
        func family(_ name: String, _ type: String, _ help: String) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) \(type)")
        }
        family("lethe_requests", "gauge", "Requests in the state database, by state.")
        for requestState in ErasureRequest.State.allCases {
            lines.append("lethe_requests{state=\"\(requestState.rawValue)\"} \(byState[requestState.rawValue] ?? 0)")
        }
        family("lethe_queue_depth", "gauge", "Requests waiting to run (received).")
        lines.append("lethe_queue_depth \(byState["received"] ?? 0)")
        family("lethe_oldest_pending_age_seconds", "gauge", "Age of the oldest request not yet done (0 when none).")
        lines.append("lethe_oldest_pending_age_seconds \(oldest.map { max(0, now.timeIntervalSince($0)) } ?? 0)")
        family("lethe_documents_total", "counter", "Documents erased by this process, by action (retain counts documents kept).")
        for action in ["delete", "anonymize", "pull", "retain"] {
            lines.append("lethe_documents_total{action=\"\(action)\"} \(snapshot.documents[action] ?? 0)")
        }
        family("lethe_events_total", "counter", "Deletion events taken in by this process, by outcome.")
        for outcome in ["accepted", "duplicate", "ignored", "refused"] {
            lines.append("lethe_events_total{outcome=\"\(outcome)\"} \(snapshot.events[outcome] ?? 0)")
        }
        family("lethe_errors_total", "counter", "Errors of the worker loop in this process.")
        lines.append("lethe_errors_total \(snapshot.errors)")
        family("lethe_sweeps_total", "counter", "Sweeps run by this process.")
        lines.append("lethe_sweeps_total \(snapshot.sweeps)")
        return lines.joined(separator: "\n") + "\n"
    }
}

extension MongoStateStore {
    /// Requests per state.
    public func countsByState() async throws -> [String: Int] {
        let groups = try await requests.aggregate([["$group": ["_id": "$state", "n": ["$sum": 1]]]]).toArray()
        var counts: [String: Int] = [:]
        for group in groups { if let name = group["_id"]?.stringValue { counts[name] = group["n"]?.intValue ?? 0 } }
        return counts
    }

    /// When the oldest request that is not done was received.
    public func oldestPending() async throws -> Date? {
        let oldest = try await requests.findOne(["state": ["$ne": "done"]], options: FindOptions(projection: ["receivedAt": 1], sort: ["receivedAt": 1]))
        return oldest?["receivedAt"]?.datetimeValue?.date
    }
}
