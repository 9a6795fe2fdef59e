import Foundation
@testable import LetheCore
import Testing

/// The report tests: figures, formats, schema and privacy, each a nested suite, so that
/// `swift test --filter ReportTests` runs them all.
@Suite("Compliance report")
struct ReportTests {}

/// A month of hand-made requests, receipts, refusals, sweeps and policy history whose
/// every figure is worked out by hand in the tests.
///
/// Period: November 2026 (UTC). Report generated 2026-12-03 12:00 UTC.
///
/// | request | received (UTC)      | state          | time   | deadline | notes |
/// |---------|---------------------|----------------|--------|----------|-------|
/// | r01     | 11-02 10:00:00.250  | done           | 1 h    | 30 d     | sub-second times |
/// | r02     | 11-03 23:30         | done           | 2 h    | 30 d     | finished after UTC midnight |
/// | r03     | 11-04 00:30         | done           | 3 h    | 30 d     | |
/// | r04     | 11-04 12:00         | done           | 4 h    | 30 d     | |
/// | r05     | 11-05 08:00         | done           | 10 h   | 5 h      | completed late by 5 h |
/// | r06     | 11-10 09:00         | failed         |        | 30 d     | due in 6 d 21 h: due soon |
/// | r07     | 11-01 00:00:00      | held           |        | 30 d     | first second of the period; overdue 2 d 12 h |
/// | r08     | 11-20 00:00         | needs-approval |        | 5 d      | overdue 8 d 12 h |
/// | r09     | 11-27 23:59:59      | received       |        | 30 d     | |
/// | r10     | 11-28 00:00:01      | running        |        | 30 d     | |
/// | before  | 10-31 23:59:59      | done           |        | 30 d     | outside; its receipt (11-01 00:30) is inside |
/// | carried | 10-15 00:00         | held           |        | 30 d     | outside, unfinished, overdue 19 d 12 h |
/// | after   | 12-01 00:00:00      | received       |        | 30 d     | outside (the end is excluded) |
enum ReportFixture {
    static func date(_ text: String) -> Date {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = text.contains(".") ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
        guard let date = formatter.date(from: text) else { fatalError("bad fixture date \(text)") }
        return date
    }

    static let period = DateInterval(start: date("2026-11-01T00:00:00Z"), end: date("2026-12-01T00:00:00Z"))
    static let now = date("2026-12-03T12:00:00Z")

    static let v1 = PolicyReference(name: "todo-app", fingerprint: "sha256:1111111111111111")
    static let v2 = PolicyReference(name: "todo-app", fingerprint: "sha256:2222222222222222")
    static let legal = PolicyReference(name: "legal, \"EU\"", fingerprint: "sha256:3333333333333333")

    static let taxReason = "tax law: invoices kept 10 years <script>alert(1)</script>"
    static let holdNote = "waiting: legal hold hold_1a2b covers this user (litigation <script>alert(1)</script>); nothing was changed"

    /// Personal data the inputs hold and no report may show.
    static let rawUserId = "alice@example.com"
    static let rawIdentity = "6560f1c2a1b2c3d4e5f6a001"
    static let requestReason = "asked by email from bob@example.org"
    static func pseudonym(_ id: String) -> String { "subj_" + String(id.suffix(6)) + "f00d" }

    static let hour: TimeInterval = 3_600
    static let day: TimeInterval = 86_400

    static func request(
        _ id: String, received: String, state: ErasureRequest.State, hours: Double? = nil,
        deadline: TimeInterval = 30 * day, policy: PolicyReference = v1, note: String? = nil,
        source: Channel = .inbox, rules: [RuleProgress] = []
    ) -> ErasureRequest {
        let receivedAt = date(received)
        var request = ErasureRequest(
            id: id, subjectPseudonym: pseudonym(id),
            subject: ErasureSubject(userId: rawUserId, identities: [rawIdentity]),
            source: source, reason: requestReason, receivedAt: receivedAt,
            dueAt: receivedAt.addingTimeInterval(deadline), policies: [policy])
        request.state = state
        request.note = note
        request.rules = rules
        if let hours {
            request.startedAt = receivedAt.addingTimeInterval(60)
            request.finishedAt = receivedAt.addingTimeInterval(hours * hour)
        }
        return request
    }

    static func rule(
        _ namespace: String, _ action: ActionKind, policy: String = "todo-app", deleted: Int = 0, modified: Int = 0,
        retained: Int = 0, reason: String? = nil, until: String? = nil, failedWith remaining: Int? = nil
    ) -> RuleProgress {
        var rule = RuleProgress(policy: policy, ruleIndex: 0, namespace: namespace, action: action)
        rule.matched = deleted + modified + retained
        rule.deleted = deleted
        rule.modified = modified
        rule.retained = retained
        rule.retainReason = reason
        rule.retainedUntil = until.map(date)
        rule.remaining = remaining ?? 0
        rule.stage = remaining == nil ? .verified : .verificationFailed
        return rule
    }

    static let r01 = request("req_20261102T100000_000001", received: "2026-11-02T10:00:00.250Z", state: .done, hours: 1, rules: [
        rule("todo.Item", .delete, deleted: 10),
        rule("todo.Project", .pull, modified: 2),
        rule("todo.Order", .retain, retained: 3, reason: taxReason, until: "2036-11-02T00:00:00Z"),
    ])
    static let r02 = request("req_20261103T233000_000002", received: "2026-11-03T23:30:00Z", state: .done, hours: 2, source: .cli, rules: [
        rule("todo.Item", .delete, deleted: 5),
        rule("todo.Comment", .anonymize, modified: 4),
    ])
    static let r03 = request("req_20261104T003000_000003", received: "2026-11-04T00:30:00Z", state: .done, hours: 3, rules: [
        rule("todo.Project", .pull, modified: 1),
    ])
    static let r04 = request("req_20261104T120000_000004", received: "2026-11-04T12:00:00Z", state: .done, hours: 4, source: .http, rules: [
        rule("todo.Order", .retain, retained: 2, reason: taxReason, until: "2036-11-04T00:00:00Z"),
    ])
    static let r05 = request("req_20261105T080000_000005", received: "2026-11-05T08:00:00Z", state: .done, hours: 10,
                             deadline: 5 * hour, policy: legal, rules: [
        rule("todo.Session", .delete, policy: legal.name),
    ])
    static let r06 = request("req_20261110T090000_000006", received: "2026-11-10T09:00:00Z", state: .failed, hours: 0.5,
                             note: "verification failed: 2 document(s) still match rule #1 (anonymize) of policy todo-app on todo.Comment",
                             rules: [rule("todo.Comment", .anonymize, modified: 6, failedWith: 2)])
    static let r07 = request("req_20261101T000000_000007", received: "2026-11-01T00:00:00Z", state: .held, note: holdNote)
    static let r08 = request("req_20261120T000000_000008", received: "2026-11-20T00:00:00Z", state: .needsApproval,
                             deadline: 5 * day, policy: v2,
                             note: "waiting for approval: it would change 12000 documents, more than the limit of 10000; run `lethe approve req_20261120T000000_000008` to let it run")
    static let r09 = request("req_20261127T235959_000009", received: "2026-11-27T23:59:59Z", state: .received, policy: v2)
    static let r10 = request("req_20261128T000001_000010", received: "2026-11-28T00:00:01Z", state: .running, policy: v2, source: .http)
    static let before = request("req_20261031T235959_0000aa", received: "2026-10-31T23:59:59Z", state: .done, hours: 0.5, rules: [
        rule("todo.Item", .delete, deleted: 7),
    ])
    static let carried = request("req_20261015T000000_0000bb", received: "2026-10-15T00:00:00Z", state: .held,
                                 note: "waiting: legal hold hold_9 covers this user (audit); nothing was changed")
    static let after = request("req_20261201T000000_0000cc", received: "2026-12-01T00:00:00Z", state: .received)

    static let requests = [after, r10, r09, r08, r07, r06, r05, r04, r03, r02, r01, before, carried]

    static var receipts: [Receipt] {
        var older = r02
        older.rules = [rule("todo.Item", .delete, deleted: 3)]
        older.state = .failed
        return [r01, r02, r03, r04, r05, r06, before].map { Receipt(request: $0, finishedAt: $0.finishedAt!) }
            + [Receipt(request: older, finishedAt: date("2026-11-03T23:45:00Z"))]  // replaced by r02's latest
            + [Receipt(request: carried, finishedAt: date("2026-10-20T00:00:00Z"))]  // before the period
    }

    static let refusals = [
        RefusedIntake(at: date("2026-11-03T23:50:00Z"), channel: .inbox, reasonCode: "not-plain-id"),
        RefusedIntake(at: date("2026-11-03T12:00:00Z"), channel: .http, reasonCode: "missing-field"),
        RefusedIntake(at: date("2026-10-31T23:00:00Z"), channel: .inbox, reasonCode: "not-plain-id"),
        RefusedIntake(at: date("2026-12-01T00:00:00Z"), channel: .inbox, reasonCode: "not-plain-id"),
    ]

    static let sweeps = [
        SweepSummary(startedAt: date("2026-11-14T03:00:00Z"), finishedAt: date("2026-11-14T03:00:02Z"), kind: .orphans,
                     dryRun: true, perNamespace: ["todo.Comment": 4]),
        SweepSummary(startedAt: date("2026-11-07T03:00:00.500Z"), finishedAt: date("2026-11-07T03:00:05Z"), kind: .retention,
                     dryRun: false, perNamespace: ["todo.Session": 12, "todo.Item": 3]),
        SweepSummary(startedAt: date("2026-10-31T03:00:00Z"), finishedAt: date("2026-10-31T03:00:01Z"), kind: .retention,
                     dryRun: false, perNamespace: ["todo.Session": 40]),
    ]

    static let history = [
        PolicyHistoryEntry(name: "todo-app", fingerprint: v1.fingerprint, firstSeen: date("2026-09-01T00:00:00Z")),
        PolicyHistoryEntry(name: "todo-app", fingerprint: v1.fingerprint, firstSeen: date("2026-10-01T00:00:00Z")),
        PolicyHistoryEntry(name: "todo-app", fingerprint: v2.fingerprint, firstSeen: date("2026-11-15T08:00:00Z")),
        PolicyHistoryEntry(name: "todo-app", fingerprint: "sha256:4444444444444444", firstSeen: date("2026-12-02T00:00:00Z")),
        PolicyHistoryEntry(name: "old", fingerprint: "sha256:aaaaaaaaaaaaaaaa", firstSeen: date("2026-01-01T00:00:00Z")),
        PolicyHistoryEntry(name: "old", fingerprint: "sha256:bbbbbbbbbbbbbbbb", firstSeen: date("2026-03-01T00:00:00Z")),
    ]

    static var report: ComplianceReport {
        ComplianceReport.build(period: period, requests: requests, refusals: refusals, receipts: receipts,
                               policies: history, sweeps: sweeps, now: now)
    }

    static var empty: ComplianceReport {
        ComplianceReport.build(period: period, requests: [], receipts: [], policies: [], sweeps: [], now: now)
    }
}
