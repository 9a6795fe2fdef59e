import Foundation

extension ComplianceReport {
    /// Builds the report of `period` from what the state database holds. Pure: the same
    /// inputs give the same report, and nothing is read but the arguments.
    ///
    /// - Parameters:
    ///   - period: from its start (included) to its end (excluded).
    ///   - requests: at least every request received in the period, and every unfinished
    ///     one received before it (they are listed when overdue or due soon). Others are
    ///     ignored. Their `subject` and `reason` are never read.
    ///   - refusals: events refused at intake; those in the period are counted.
    ///   - receipts: at least those finished in the period; one per request is counted,
    ///     the latest (a stored receipt is replaced when its request runs again).
    ///   - policies: the history of every policy: each fingerprint with when it was first seen.
    ///   - sweeps: sweeps; those started in the period are listed.
    ///   - failures: failed attempts from the audit trail; those in the period are counted.
    ///   - now: the time states, overdue and due-soon are judged at.
    public static func build(
        period: DateInterval,
        requests: [ErasureRequest],
        refusals: [RefusedIntake] = [],
        receipts: [Receipt],
        policies: [PolicyHistoryEntry],
        sweeps: [SweepSummary],
        failures: [FailedAttempt] = [],
        now: Date
    ) -> ComplianceReport {
        let period = Period(start: whole(period.start), end: whole(period.end))
        let now = whole(now)

        let received = requests
            .filter { period.contains(whole($0.receivedAt)) }
            .sorted { (whole($0.receivedAt), $0.id) < (whole($1.receivedAt), $1.id) }
        let lines = received.map { line(for: $0, now: now) }
        let carriedOver = requests.filter { whole($0.receivedAt) < period.start && $0.state != .done }

        var outcomes = OutcomeCounts()
        for line in lines { outcomes.count(line.outcome) }
        let refusedInPeriod = refusals.filter { period.contains(whole($0.at)) }
        for _ in refusedInPeriod { outcomes.count(.refused) }
        for failure in failures where period.contains(whole(failure.at)) {
            outcomes.failedAttempts += 1
            if failure.verification { outcomes.failedVerifications += 1 }
        }

        return ComplianceReport(
            schema: schemaIdentifier,
            generatedAt: now,
            letheVersion: LetheVersion.current,
            period: period,
            outcomes: outcomes,
            refusals: refusalCounts(refusedInPeriod),
            notes: received.compactMap { request in
                request.note.map { RequestNote(requestId: request.id, state: request.state, note: $0) }
            },
            completion: completionTimes(lines),
            deadlines: deadlines(received, carriedOver: carriedOver, now: now),
            documents: documentActivity(receipts.filter { period.contains(whole($0.finishedAt)) }),
            sweeps: sweeps
                .filter { period.contains(whole($0.startedAt)) }
                .map { sweep in
                    var sweep = sweep
                    sweep.startedAt = whole(sweep.startedAt)
                    sweep.finishedAt = whole(sweep.finishedAt)
                    return sweep
                }
                .sorted { ($0.startedAt, $0.kind.rawValue) < ($1.startedAt, $1.kind.rawValue) },
            policies: policyVersions(policies, period: period, requests: lines),
            days: days(period: period, requests: lines, refusals: refusedInPeriod),
            requests: lines
        )
    }

    /// A date without its fraction of a second: what ISO-8601 in JSON keeps.
    static func whole(_ date: Date) -> Date {
        Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
    }

    static func seconds(from start: Date, to end: Date) -> Int {
        Int(end.timeIntervalSince(start).rounded())
    }

    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    /// `yyyy-MM-dd` of `date` in UTC.
    static func dayKey(_ date: Date) -> String {
        let parts = utc.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }

    // MARK: Requests

    private static func line(for request: ErasureRequest, now: Date) -> RequestLine {
        let receivedAt = whole(request.receivedAt)
        let dueAt = request.dueAt.map(whole)
        let finishedAt = request.finishedAt.map(whole)
        var time: ElapsedTime?
        if request.state == .done, let finishedAt {
            time = ElapsedTime(seconds: seconds(from: receivedAt, to: finishedAt))
        }
        let overdue: Bool = if let dueAt {
            request.state == .done ? (finishedAt ?? now) > dueAt : now > dueAt
        } else {
            false
        }
        return RequestLine(
            id: request.id, state: request.state, outcome: ReportOutcome(request.state), source: request.source,
            receivedAt: receivedAt, dueAt: dueAt, finishedAt: finishedAt, timeToComplete: time,
            overdue: overdue, policies: request.policies
        )
    }

    private static func refusalCounts(_ refusals: [RefusedIntake]) -> [RefusalCount] {
        var counts: [Channel: [String: Int]] = [:]
        for refusal in refusals { counts[refusal.channel, default: [:]][refusal.reasonCode, default: 0] += 1 }
        return counts.keys.sorted { $0.rawValue < $1.rawValue }.flatMap { channel in
            counts[channel]!.keys.sorted().map { code in
                RefusalCount(channel: channel, reasonCode: code, count: counts[channel]![code]!)
            }
        }
    }

    // MARK: Deadlines

    private static func completionTimes(_ lines: [RequestLine]) -> CompletionTimes {
        let completed = lines.filter { $0.timeToComplete != nil }
        let all = completed.map { $0.timeToComplete!.seconds }
        let late = completed.filter(\.overdue).count
        let withoutDeadline = completed.filter { $0.dueAt == nil }.count

        var groups: [Int?: [RequestLine]] = [:]
        for line in completed {
            groups[line.dueAt.map { seconds(from: line.receivedAt, to: $0) }, default: []].append(line)
        }
        let byDeadline = groups.keys
            .sorted { ($0 ?? .max) < ($1 ?? .max) }  // no due date last
            .map { allowed in
                let members = groups[allowed]!
                let times = members.map { $0.timeToComplete!.seconds }
                return CompletionTimes.DeadlineGroup(
                    allowed: allowed.map(ElapsedTime.init(seconds:)),
                    count: members.count,
                    median: ElapsedTime(seconds: ReportStatistics.median(times)!),
                    p95: ElapsedTime(seconds: ReportStatistics.percentile(95, of: times)!),
                    max: ElapsedTime(seconds: times.max()!),
                    late: members.filter(\.overdue).count
                )
            }
        return CompletionTimes(
            count: completed.count,
            median: ReportStatistics.median(all).map(ElapsedTime.init(seconds:)),
            p95: ReportStatistics.percentile(95, of: all).map(ElapsedTime.init(seconds:)),
            max: all.max().map(ElapsedTime.init(seconds:)),
            withinDeadline: completed.count - late - withoutDeadline,
            late: late,
            withoutDeadline: withoutDeadline,
            byDeadline: byDeadline
        )
    }

    private static func deadlines(_ received: [ErasureRequest], carriedOver: [ErasureRequest], now: Date) -> [DeadlineEntry] {
        let candidates = carriedOver.map { ($0, false) } + received.map { ($0, true) }
        let entries: [DeadlineEntry] = candidates.compactMap { request, inPeriod in
            guard let dueAt = request.dueAt.map(whole) else { return nil }
            let finishedAt = request.finishedAt.map(whole)
            var lateBy: ElapsedTime?
            var dueIn: ElapsedTime?
            let status: DeadlineEntry.Status
            if request.state == .done {
                guard let finishedAt, finishedAt > dueAt else { return nil }
                status = .completedLate
                lateBy = ElapsedTime(seconds: seconds(from: dueAt, to: finishedAt))
            } else if now > dueAt {
                status = .overdue
                lateBy = ElapsedTime(seconds: seconds(from: dueAt, to: now))
            } else if dueAt.timeIntervalSince(now) <= dueSoonWindow {
                status = .dueSoon
                dueIn = ElapsedTime(seconds: seconds(from: now, to: dueAt))
            } else {
                return nil
            }
            return DeadlineEntry(
                requestId: request.id, status: status, state: request.state, receivedAt: whole(request.receivedAt),
                dueAt: dueAt, finishedAt: finishedAt, lateBy: lateBy, dueIn: dueIn,
                receivedInPeriod: inPeriod, note: request.state == .done ? nil : request.note
            )
        }
        let order = Dictionary(uniqueKeysWithValues: DeadlineEntry.Status.allCases.enumerated().map { ($1, $0) })
        return entries.sorted { (order[$0.status]!, $0.dueAt, $0.requestId) < (order[$1.status]!, $1.dueAt, $1.requestId) }
    }

    // MARK: Documents

    private static func documentActivity(_ receipts: [Receipt]) -> DocumentActivity {
        var latest: [String: Receipt] = [:]
        for receipt in receipts where latest[receipt.requestId].map({ $0.finishedAt < receipt.finishedAt }) ?? true {
            latest[receipt.requestId] = receipt
        }
        let counted = latest.values.sorted { $0.requestId < $1.requestId }

        var namespaces: [String: NamespaceDocuments] = [:]
        var namespaceRequests: [String: Set<String>] = [:]
        struct RetainKey: Hashable { var namespace: String, policy: String, reason: String }
        var retained: [RetainKey: RetainedDocuments] = [:]
        var retainedRequests: [RetainKey: Set<String>] = [:]
        // A document kept for several requests is counted once, by its key; documents
        // beyond a receipt's keys (past its limit, or recorded before keys) per request.
        var retainedOnce = DistinctCount<RetainKey>(), namespaceRetainedOnce = DistinctCount<String>()

        for receipt in counted {
            for rule in receipt.rules {
                var entry = namespaces[rule.namespace] ?? NamespaceDocuments(
                    namespace: rule.namespace, deleted: 0, anonymized: 0, pulled: 0, retained: 0,
                    requests: 0, verificationFailures: 0)
                entry.deleted += rule.deleted
                namespaceRetainedOnce.add(rule.retained, keys: rule.retainedKeys, to: rule.namespace)
                if rule.action == .pull { entry.pulled += rule.modified } else { entry.anonymized += rule.modified }
                if rule.verification == .failed { entry.verificationFailures += 1 }
                namespaces[rule.namespace] = entry
                namespaceRequests[rule.namespace, default: []].insert(receipt.requestId)

                guard rule.retained > 0 else { continue }
                let key = RetainKey(namespace: rule.namespace, policy: rule.policy, reason: rule.retainReason ?? "")
                var kept = retained[key] ?? RetainedDocuments(
                    namespace: key.namespace, policy: key.policy, reason: key.reason, documents: 0, requests: 0, latestUntil: nil)
                retainedOnce.add(rule.retained, keys: rule.retainedKeys, to: key)
                if let until = rule.retainedUntil.map(whole) { kept.latestUntil = Swift.max(kept.latestUntil ?? until, until) }
                retained[key] = kept
                retainedRequests[key, default: []].insert(receipt.requestId)
            }
        }
        for key in namespaces.keys {
            namespaces[key]!.requests = namespaceRequests[key]!.count
            namespaces[key]!.retained = namespaceRetainedOnce.total(key)
        }
        for key in retained.keys {
            retained[key]!.requests = retainedRequests[key]!.count
            retained[key]!.documents = retainedOnce.total(key)
        }

        return DocumentActivity(
            receipts: counted.count,
            completedReceipts: counted.filter { $0.outcome == .completed }.count,
            failedReceipts: counted.filter { $0.outcome != .completed }.count,
            namespaces: namespaces.values.sorted { $0.namespace < $1.namespace },
            retained: retained.values.sorted { ($0.namespace, $0.policy, $0.reason) < ($1.namespace, $1.policy, $1.reason) }
        )
    }

    // MARK: Policies

    private static func policyVersions(_ history: [PolicyHistoryEntry], period: Period, requests: [RequestLine]) -> [PolicyVersion] {
        var used: [PolicyReference: Int] = [:]
        for line in requests {
            for reference in Set(line.policies) { used[reference, default: 0] += 1 }
        }

        var versions: [PolicyVersion] = []
        var listed = Set<PolicyReference>()
        let byName = Dictionary(grouping: history, by: \.name)
        for name in byName.keys.sorted() {
            // Oldest first; a fingerprint seen again right after itself is the same version.
            var entries: [PolicyHistoryEntry] = []
            for entry in byName[name]!.sorted(by: { ($0.firstSeen, $0.fingerprint) < ($1.firstSeen, $1.fingerprint) })
            where entries.last?.fingerprint != entry.fingerprint {
                entries.append(entry)
            }
            for (index, entry) in entries.enumerated() {
                let firstSeen = whole(entry.firstSeen)
                let replacedAt = index + 1 < entries.count ? whole(entries[index + 1].firstSeen) : nil
                let inForce = firstSeen < period.end && (replacedAt.map { $0 > period.start } ?? true)
                guard inForce || used[entry.reference] != nil else { continue }
                listed.insert(entry.reference)
                versions.append(PolicyVersion(
                    name: name, fingerprint: entry.fingerprint, firstSeen: firstSeen, replacedAt: replacedAt,
                    changedInPeriod: period.contains(firstSeen), requests: used[entry.reference] ?? 0))
            }
        }
        for reference in used.keys where !listed.contains(reference) {
            versions.append(PolicyVersion(
                name: reference.name, fingerprint: reference.fingerprint, firstSeen: nil, replacedAt: nil,
                changedInPeriod: false, requests: used[reference]!))
        }
        return versions.sorted {
            ($0.name, $0.firstSeen ?? .distantFuture, $0.fingerprint) < ($1.name, $1.firstSeen ?? .distantFuture, $1.fingerprint)
        }
    }

    // MARK: Days

    private static func days(period: Period, requests: [RequestLine], refusals: [RefusedIntake]) -> [DayCount] {
        var counts: [String: OutcomeCounts] = [:]
        for line in requests { counts[dayKey(line.receivedAt), default: OutcomeCounts()].count(line.outcome) }
        for refusal in refusals { counts[dayKey(whole(refusal.at)), default: OutcomeCounts()].count(.refused) }

        var result: [DayCount] = []
        var day = utc.startOfDay(for: period.start)
        while day < period.end {
            let key = dayKey(day)
            result.append(DayCount(day: key, counts: counts[key] ?? OutcomeCounts()))
            guard let next = utc.date(byAdding: .day, value: 1, to: day) else { break }
            day = next
        }
        return result
    }
}

/// Documents counted once by key, plus those counted without one.
struct DistinctCount<Group: Hashable> {
    private var keys: [Group: Set<String>] = [:]
    private var unkeyed: [Group: Int] = [:]

    /// `documents` of one receipt's rule, of which `keys` are known.
    mutating func add(_ documents: Int, keys known: [String]?, to group: Group) {
        let known = known ?? []
        keys[group, default: []].formUnion(known)
        unkeyed[group, default: 0] += max(documents - known.count, 0)
    }

    func total(_ group: Group) -> Int { (keys[group]?.count ?? 0) + (unkeyed[group] ?? 0) }
}
