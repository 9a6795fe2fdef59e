import Foundation
@testable import LetheCore
import Testing

extension ReportTests {
    @Suite("Report figures")
    struct Figures {
        let report = ReportFixture.report
        typealias F = ReportFixture

        @Test("requests received in the period, by outcome; the start is in, the end is out")
        func outcomes() {
            var expected = OutcomeCounts()
            expected.received = 10
            expected.completed = 5
            expected.failed = 1
            expected.held = 1
            expected.awaitingApproval = 1
            expected.open = 2
            expected.refused = 2
            #expect(report.outcomes == expected)
            #expect(report.requests.map(\.id) == [F.r07, F.r01, F.r02, F.r03, F.r04, F.r05, F.r06, F.r08, F.r09, F.r10].map(\.id))
            #expect(report.period.start == F.period.start && report.period.end == F.period.end)
            #expect(report.generatedAt == F.now)
            #expect(report.schema == "lethe.report/v1")
        }

        @Test("refusals at intake are counted by channel and code, in the period only")
        func refusals() {
            #expect(report.refusals == [
                RefusalCount(channel: .http, reasonCode: "missing-field", count: 1),
                RefusalCount(channel: .inbox, reasonCode: "not-plain-id", count: 1),
            ])
            let recorded = IntakeRefusal(at: F.now, channel: .http, code: "not-plain-id", field: "user", message: "the user id alice@example.com is not plain")
            #expect(RefusedIntake(recorded) == RefusedIntake(at: F.now, channel: .http, reasonCode: "not-plain-id"))
        }

        @Test("notes of failed, held and waiting requests of the period, as the engine wrote them")
        func notes() {
            #expect(report.notes.map(\.requestId) == [F.r07.id, F.r06.id, F.r08.id])
            #expect(report.notes.map(\.state) == [.held, .failed, .needsApproval])
            #expect(report.notes[0].note == F.holdNote)
        }

        @Test("median, 95th percentile and maximum of 1, 2, 3, 4 and 10 hours")
        func completion() {
            let completion = report.completion
            #expect(completion.count == 5)
            #expect(completion.median == ElapsedTime(seconds: 10_800))
            #expect(completion.median?.hours == 3)
            #expect(completion.p95 == ElapsedTime(seconds: 36_000), "nearest rank: ceil(0.95 × 5) = 5th of 5")
            #expect(completion.max == ElapsedTime(seconds: 36_000))
            #expect(completion.max?.hours == 10)
            #expect(completion.withinDeadline == 4)
            #expect(completion.late == 1)
            #expect(completion.withoutDeadline == 0)
            #expect(completion.byDeadline.count == 2)
            let short = completion.byDeadline[0]
            #expect(short.allowed == ElapsedTime(seconds: 18_000))
            #expect(short.count == 1 && short.late == 1)
            #expect(short.median.seconds == 36_000 && short.p95.seconds == 36_000 && short.max.seconds == 36_000)
            let month = completion.byDeadline[1]
            #expect(month.allowed == ElapsedTime(seconds: 30 * 86_400))
            #expect(month.allowed?.hours == 720)
            #expect(month.count == 4 && month.late == 0)
            #expect(month.median == ElapsedTime(seconds: 9_000), "even count: the mean of 2 h and 3 h")
            #expect(month.median.hours == 2.5)
            #expect(month.p95.seconds == 14_400, "ceil(0.95 × 4) = 4th of 4")
            #expect(month.max.seconds == 14_400)
        }

        @Test("the statistics: odd and even counts, nearest rank, halves rounded up, empty")
        func statistics() {
            #expect(ReportStatistics.median([5, 1, 3]) == 3)
            #expect(ReportStatistics.median([4, 1, 3, 2]) == 3, "2.5 rounds to 3")
            #expect(ReportStatistics.median([1, 2]) == 2)
            #expect(ReportStatistics.median([10, 20]) == 15)
            #expect(ReportStatistics.median([7]) == 7)
            #expect(ReportStatistics.median([]) == nil)
            let twenty = Array(1...20).reversed().map { $0 * 100 }
            #expect(ReportStatistics.percentile(95, of: twenty) == 1_900, "rank ceil(19.0) = 19")
            #expect(ReportStatistics.percentile(95, of: Array(1...21)) == 20, "rank ceil(19.95) = 20")
            #expect(ReportStatistics.percentile(95, of: Array(1...100)) == 95)
            #expect(ReportStatistics.percentile(50, of: [1, 2, 3, 4]) == 2)
            #expect(ReportStatistics.percentile(100, of: [3, 9, 1]) == 9)
            #expect(ReportStatistics.percentile(95, of: [42]) == 42)
            #expect(ReportStatistics.percentile(95, of: []) == nil)
        }

        @Test("overdue, completed late and due soon, with how late or how soon, carried-over requests included")
        func deadlines() {
            let entries = report.deadlines
            #expect(entries.map(\.requestId) == [F.carried.id, F.r08.id, F.r07.id, F.r05.id, F.r06.id])
            #expect(entries.map(\.status) == [.overdue, .overdue, .overdue, .completedLate, .dueSoon])
            #expect(entries.map { $0.lateBy?.seconds } == [1_684_800, 734_400, 216_000, 18_000, nil])
            #expect(entries.map { $0.dueIn?.seconds } == [nil, nil, nil, nil, 594_000])
            #expect(entries.map(\.receivedInPeriod) == [false, true, true, true, true])
            #expect(entries[0].note == "waiting: legal hold hold_9 covers this user (audit); nothing was changed")
            #expect(entries[3].note == nil)
            #expect(entries[3].finishedAt == F.date("2026-11-05T18:00:00Z"))

            let overdue = Dictionary(uniqueKeysWithValues: report.requests.map { ($0.id, $0.overdue) })
            #expect(report.requests.filter(\.overdue).map(\.id) == [F.r07.id, F.r05.id, F.r08.id])
            #expect(overdue[F.r06.id] == false && overdue[F.r09.id] == false)
        }

        @Test("due soon is unfinished and due within 7 days of now; a request due in 7 days and 1 second is not")
        func dueSoonEdge() {
            let now = F.now
            func entry(dueIn seconds: TimeInterval) -> [DeadlineEntry] {
                var request = F.r09
                request.receivedAt = F.date("2026-11-10T00:00:00Z")
                request.dueAt = now.addingTimeInterval(seconds)
                return ComplianceReport.build(period: F.period, requests: [request], receipts: [], policies: [], sweeps: [], now: now).deadlines
            }
            #expect(entry(dueIn: 7 * 86_400).map(\.status) == [.dueSoon])
            #expect(entry(dueIn: 7 * 86_400 + 1).isEmpty)
            #expect(entry(dueIn: 0).map(\.status) == [.dueSoon], "due this very second: not yet overdue")
            #expect(entry(dueIn: -1).map(\.status) == [.overdue])
        }

        @Test("documents per collection and action, from the latest receipt of each request finished in the period")
        func namespaces() {
            let documents = report.documents
            #expect(documents.receipts == 7)
            #expect(documents.completedReceipts == 6)
            #expect(documents.failedReceipts == 1)
            #expect(documents.namespaces.map(\.namespace) == ["todo.Comment", "todo.Item", "todo.Order", "todo.Project", "todo.Session"])
            #expect(documents.namespaces == [
                NamespaceDocuments(namespace: "todo.Comment", deleted: 0, anonymized: 10, pulled: 0, retained: 0, requests: 2, verificationFailures: 1),
                NamespaceDocuments(namespace: "todo.Item", deleted: 22, anonymized: 0, pulled: 0, retained: 0, requests: 3, verificationFailures: 0),
                NamespaceDocuments(namespace: "todo.Order", deleted: 0, anonymized: 0, pulled: 0, retained: 5, requests: 2, verificationFailures: 0),
                NamespaceDocuments(namespace: "todo.Project", deleted: 0, anonymized: 0, pulled: 3, retained: 0, requests: 2, verificationFailures: 0),
                NamespaceDocuments(namespace: "todo.Session", deleted: 0, anonymized: 0, pulled: 0, retained: 0, requests: 1, verificationFailures: 0),
            ])
            #expect(documents.retained == [
                RetainedDocuments(namespace: "todo.Order", policy: "todo-app", reason: F.taxReason, documents: 5, requests: 2,
                                  latestUntil: F.date("2036-11-04T00:00:00Z")),
            ])
        }

        @Test("requests per UTC day by outcome, across midnights, every day of the period")
        func days() {
            #expect(report.days.count == 30)
            #expect(report.days.first?.day == "2026-11-01")
            #expect(report.days.last?.day == "2026-11-30")
            let byDay = Dictionary(uniqueKeysWithValues: report.days.map { ($0.day, $0.counts) })
            func counts(_ day: String) -> [Int] { ReportOutcome.allCases.map { byDay[day]![$0] } }
            // completed, failed, held, awaiting approval, open, refused
            #expect(counts("2026-11-01") == [0, 0, 1, 0, 0, 0])
            #expect(counts("2026-11-02") == [1, 0, 0, 0, 0, 0])
            #expect(counts("2026-11-03") == [1, 0, 0, 0, 0, 2], "23:30 and 23:50 stay on the 3rd")
            #expect(counts("2026-11-04") == [2, 0, 0, 0, 0, 0], "00:30 is the 4th")
            #expect(counts("2026-11-27") == [0, 0, 0, 0, 1, 0], "23:59:59")
            #expect(counts("2026-11-28") == [0, 0, 0, 0, 1, 0], "00:00:01")
            #expect(byDay["2026-11-03"]!.received == 1)
            #expect(report.days.reduce(0) { $0 + $1.counts.received } == 10)
            #expect(report.days.reduce(0) { $0 + $1.counts.refused } == 2)
            #expect(report.days.filter { $0.counts.received + $0.counts.refused > 0 }.map(\.day) == [
                "2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05",
                "2026-11-10", "2026-11-20", "2026-11-27", "2026-11-28",
            ])
        }

        @Test("policy versions in force in the period, when they changed, and versions only requests name")
        func policies() {
            #expect(report.policies == [
                PolicyVersion(name: F.legal.name, fingerprint: F.legal.fingerprint, firstSeen: nil, replacedAt: nil,
                              changedInPeriod: false, requests: 1),
                PolicyVersion(name: "old", fingerprint: "sha256:bbbbbbbbbbbbbbbb", firstSeen: F.date("2026-03-01T00:00:00Z"),
                              replacedAt: nil, changedInPeriod: false, requests: 0),
                PolicyVersion(name: "todo-app", fingerprint: F.v1.fingerprint, firstSeen: F.date("2026-09-01T00:00:00Z"),
                              replacedAt: F.date("2026-11-15T08:00:00Z"), changedInPeriod: false, requests: 6),
                PolicyVersion(name: "todo-app", fingerprint: F.v2.fingerprint, firstSeen: F.date("2026-11-15T08:00:00Z"),
                              replacedAt: F.date("2026-12-02T00:00:00Z"), changedInPeriod: true, requests: 3),
            ])
        }

        @Test("sweeps started in the period, oldest first, in whole seconds")
        func sweeps() {
            #expect(report.sweeps.map(\.kind) == [.retention, .orphans])
            #expect(report.sweeps[0].startedAt == F.date("2026-11-07T03:00:00Z"))
            #expect(report.sweeps[0].perNamespace == ["todo.Session": 12, "todo.Item": 3])
            #expect(report.sweeps[0].total == 15)
            #expect(report.sweeps[1].dryRun)
        }

        @Test("a recorded sweep becomes a summary: removed per namespace, or matched for a dry run")
        func sweepFromRecord() {
            let rules = [
                SweepReport.Rule(policy: "todo-app", ruleIndex: 0, namespace: "todo.Session", action: .delete, matched: 9, deleted: 8, modified: 0),
                SweepReport.Rule(policy: "todo-app", ruleIndex: 1, namespace: "todo.Item", action: .anonymize, matched: 4, deleted: 0, modified: 3),
                SweepReport.Rule(policy: "other", ruleIndex: 0, namespace: "todo.Session", action: .delete, matched: 2, deleted: 2, modified: 0),
            ]
            let start = F.date("2026-11-07T03:00:00Z")
            let applied = SweepSummary(SweepReport(kind: .retention, dryRun: false, startedAt: start, finishedAt: start, rules: rules))
            #expect(applied.perNamespace == ["todo.Session": 10, "todo.Item": 3])
            #expect(applied.kind == .retention && !applied.dryRun && applied.startedAt == start)
            let dry = SweepSummary(SweepReport(kind: .retention, dryRun: true, startedAt: start, finishedAt: start, rules: rules))
            #expect(dry.perNamespace == ["todo.Session": 11, "todo.Item": 4])
        }

        @Test("each request line: dates in whole seconds, time to complete, overdue, policies")
        func lines() throws {
            let first = try #require(report.requests.first { $0.id == F.r01.id })
            #expect(first.receivedAt == F.date("2026-11-02T10:00:00Z"), "fractions of a second are dropped")
            #expect(first.timeToComplete == ElapsedTime(seconds: 3_600))
            #expect(first.outcome == .completed)
            #expect(first.policies == [F.v1])
            let held = try #require(report.requests.first { $0.id == F.r07.id })
            #expect(held.timeToComplete == nil && held.finishedAt == nil && held.overdue)
            let failed = try #require(report.requests.first { $0.id == F.r06.id })
            #expect(failed.timeToComplete == nil, "only completed requests are timed")
            #expect(failed.finishedAt == F.date("2026-11-10T09:30:00Z"))
        }

        @Test("no input: an empty report with every day of the period")
        func empty() {
            let report = ReportFixture.empty
            #expect(report.outcomes == OutcomeCounts())
            #expect(report.completion.count == 0 && report.completion.median == nil && report.completion.byDeadline.isEmpty)
            #expect(report.deadlines.isEmpty && report.requests.isEmpty && report.policies.isEmpty)
            #expect(report.days.count == 30)
        }
    }
}

extension ReportTests {
    @Suite("Failed attempts")
    struct FailedAttempts {
        typealias F = ReportFixture

        @Test("a request that failed four times and was retried until done counts its failures; those outside the period do not")
        func retriedFailures() {
            let request = F.r01
            let inPeriod = F.date("2026-11-02T10:20:00Z")
            let failures = (0..<4).map { FailedAttempt(requestId: request.id, at: inPeriod.addingTimeInterval(Double($0) * 60), verification: $0 % 2 == 0) }
                + [FailedAttempt(requestId: request.id, at: F.date("2026-10-01T00:00:00Z"), verification: true)]
            let report = ComplianceReport.build(period: F.period, requests: [request], receipts: [], policies: [], sweeps: [],
                                                failures: failures, now: F.now)
            #expect(report.outcomes.completed == 1 && report.outcomes.failed == 0)
            #expect(report.outcomes.failedAttempts == 4)
            #expect(report.outcomes.failedVerifications == 2)
            #expect((try? report.render(.md))?.contains("4 (2 by verification)") == true)
        }

        @Test("a failed attempt is read from its closing audit entry; any other entry is none")
        func fromAudit() {
            var entry = AuditEntry(at: Date(), event: .failed, requestId: "req_1", counts: ["remaining": 3])
            #expect(FailedAttempt(entry)?.verification == true)
            entry.counts = ["remaining": 0]
            #expect(FailedAttempt(entry)?.verification == false)
            entry.event = .finished
            #expect(FailedAttempt(entry) == nil)
        }
    }
}
