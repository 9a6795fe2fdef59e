import BSON
import Foundation
import LetheCore
import MongoKit
import NIOConcurrencyHelpers

/// What `GET /metrics` shows (and `run --once --metrics-file` writes), in Prometheus'
/// text format: requests by state, queue depth, overdue requests and the oldest pending
/// age (read from the state database at each scrape, within a bound: when it does not
/// answer, `lethe_state_database_up` is 0 and these are left out), and this process's
/// build, counters of documents by action, intake outcomes, errors and passes, and a
/// histogram of request duration (received to done).
public final class ServiceMetrics: Sendable {
    private struct Counters {
        var documents: [String: Int] = [:]
        var events: [String: Int] = [:]
        var errors = 0
        var sweeps = 0
        var passes = 0
        var durations = Histogram(bounds: ServiceMetrics.durationBuckets)
    }

    /// Upper bounds of the duration histogram's buckets, in seconds: a minute to the
    /// 45 days a request may take (CCPA's deadline; GDPR's month is 30 days).
    static let durationBuckets: [Double] = [60, 600, 3_600, 21_600, 86_400, 604_800, 2_592_000, 3_888_000]

    private let counters = NIOLockedValueBox(Counters())
    let state: MongoStateStore
    /// Longest wait for the state database's figures. Default 2 seconds.
    let databaseTimeout: Duration

    public init(state: MongoStateStore, databaseTimeout: Duration = .seconds(2)) {
        self.state = state
        self.databaseTimeout = databaseTimeout
    }

    public func record(_ summary: QueueWorker.Summary) {
        counters.withLockedValue { counters in
            for (action, count) in summary.documents { counters.documents[action.rawValue, default: 0] += count }
            for seconds in summary.durations { counters.durations.observe(seconds) }
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

    /// Counts a whole pass of the worker (inbox and queue).
    public func record(_ pass: PassSummary) {
        record(pass.intake)
        record(pass.queue)
        counters.withLockedValue { $0.passes += 1 }
    }

    public func recordError() { counters.withLockedValue { $0.errors += 1 } }
    public func recordSweep() { counters.withLockedValue { $0.sweeps += 1 } }

    /// Whether the worker has finished a pass: `/readyz`.
    public var hasFinishedAPass: Bool { counters.withLockedValue { $0.passes > 0 } }

    public func render(now: Date = Date()) async -> String {
        let snapshot = counters.withLockedValue { $0 }
        let stored = await answer(within: databaseTimeout) { [state] in try? await StoredFigures.read(state, now: now) } ?? nil
        var lines: [String] = []
        func family(_ name: String, _ type: String, _ help: String) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) \(type)")
        }
        family("lethe_build_info", "gauge", "The running lethe's version (always 1).")
        lines.append("lethe_build_info{version=\"\(LetheVersion.current)\"} 1")
        family("lethe_state_database_up", "gauge", "1 when the state database gave its figures within the bound, else 0 (and they are left out).")
        lines.append("lethe_state_database_up \(stored == nil ? 0 : 1)")
        if let stored {
            family("lethe_requests", "gauge", "Requests in the state database, by state.")
            for requestState in ErasureRequest.State.allCases {
                lines.append("lethe_requests{state=\"\(requestState.rawValue)\"} \(stored.byState[requestState.rawValue] ?? 0)")
            }
            family("lethe_queue_depth", "gauge", "Requests waiting to run (received).")
            lines.append("lethe_queue_depth \(stored.byState["received"] ?? 0)")
            family("lethe_requests_overdue", "gauge", "Requests not done whose due date has passed.")
            lines.append("lethe_requests_overdue \(stored.overdue)")
            family("lethe_oldest_pending_age_seconds", "gauge", "Age of the oldest request not yet done (0 when none).")
            lines.append("lethe_oldest_pending_age_seconds \(stored.oldestPending.map { max(0, now.timeIntervalSince($0)) } ?? 0)")
        }
        family("lethe_documents_total", "counter", "Documents erased by this process, by action (retain counts documents kept).")
        for action in ["delete", "anonymize", "pull", "retain"] {
            lines.append("lethe_documents_total{action=\"\(action)\"} \(snapshot.documents[action] ?? 0)")
        }
        family("lethe_events_total", "counter", "Deletion events taken in by this process, by outcome.")
        for outcome in ["accepted", "duplicate", "ignored", "refused"] {
            lines.append("lethe_events_total{outcome=\"\(outcome)\"} \(snapshot.events[outcome] ?? 0)")
        }
        family("lethe_request_duration_seconds", "histogram", "Time from a request's receipt to its erasure, of the requests this process finished.")
        lines += snapshot.durations.lines(name: "lethe_request_duration_seconds")
        family("lethe_errors_total", "counter", "Errors of the worker loop in this process.")
        lines.append("lethe_errors_total \(snapshot.errors)")
        family("lethe_worker_passes_total", "counter", "Passes of the worker (inbox, then queue) finished by this process.")
        lines.append("lethe_worker_passes_total \(snapshot.passes)")
        family("lethe_sweeps_total", "counter", "Sweeps run by this process.")
        lines.append("lethe_sweeps_total \(snapshot.sweeps)")
        return lines.joined(separator: "\n") + "\n"
    }
}

/// The figures `/metrics` reads from the state database.
private struct StoredFigures: Sendable {
    var byState: [String: Int]
    var overdue: Int
    var oldestPending: Date?

    static func read(_ state: MongoStateStore, now: Date) async throws -> StoredFigures {
        StoredFigures(byState: try await state.countsByState(), overdue: try await state.overdueCount(now: now),
                      oldestPending: try await state.oldestPending())
    }
}

/// A Prometheus histogram: cumulative counts per upper bound, their sum and count.
struct Histogram: Sendable {
    let bounds: [Double]
    private(set) var counts: [Int]
    private(set) var sum = 0.0
    private(set) var count = 0

    init(bounds: [Double]) {
        self.bounds = bounds
        self.counts = Array(repeating: 0, count: bounds.count)
    }

    mutating func observe(_ value: Double) {
        for (index, bound) in bounds.enumerated() where value <= bound { counts[index] += 1 }
        sum += value
        count += 1
    }

    func lines(name: String) -> [String] {
        zip(bounds, counts).map { "\(name)_bucket{le=\"\(Self.number($0))\"} \($1)" }
            + ["\(name)_bucket{le=\"+Inf\"} \(count)", "\(name)_sum \(sum)", "\(name)_count \(count)"]
    }

    private static func number(_ value: Double) -> String {
        value.rounded() == value ? String(Int(value)) : String(value)
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

    /// Requests not done whose due date has passed.
    public func overdueCount(now: Date) async throws -> Int {
        try await requests.countDocuments(["state": ["$ne": "done"], "dueAt": ["$lt": .datetime(BSONDatetime(now))]])
    }

    /// When the oldest request that is not done was received.
    public func oldestPending() async throws -> Date? {
        let oldest = try await requests.findOne(["state": ["$ne": "done"]], options: FindOptions(projection: ["receivedAt": 1], sort: ["receivedAt": 1]))
        return oldest?["receivedAt"]?.datetimeValue?.date
    }
}
