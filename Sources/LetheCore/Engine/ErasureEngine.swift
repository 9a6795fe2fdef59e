import BSON
import Foundation
import Logging

/// Carries out erasure requests: makes every rule of every policy true for one user,
/// in bounded batches, resumably, and verifies the result before it writes a receipt.
///
/// Every write is idempotent (it targets only documents still needing the action), so
/// a request interrupted at any point and run again ends with the same data as an
/// uninterrupted run, and a finished request run again changes nothing.
public struct ErasureEngine: Sendable {
    public struct Options: Sendable {
        /// Most documents one write command targets; larger sets go in batches of this
        /// size, so no single operation runs long on a busy cluster. Default 5,000.
        public var batchSize: Int
        /// Guard rail overriding the policies' `maxDocumentsPerRequest`. Default nil: the
        /// smallest limit among the policies, else `Policy.defaultMaxDocumentsPerRequest`.
        public var maxDocumentsPerRequest: Int?
        /// Attempts for an operation failing with a transient error. Default 4.
        public var maxAttempts: Int
        /// First backoff delay; it doubles per attempt, with jitter. Default 200 ms.
        public var initialBackoff: Duration
        /// Leftover documents listed at most when verification fails. Default 1,000.
        public var verificationLimit: Int

        /// Documents read and rewritten one by one (hashing, the ledger of retained
        /// documents) are held at most this many at a time, whatever `batchSize` says:
        /// memory stays flat however many documents a user has.
        public var streamingBatchSize: Int { min(batchSize, 1_000) }

        public init(batchSize: Int = 5_000, maxDocumentsPerRequest: Int? = nil, maxAttempts: Int = 4,
                    initialBackoff: Duration = .milliseconds(200), verificationLimit: Int = 1_000) {
            self.batchSize = batchSize
            self.maxDocumentsPerRequest = maxDocumentsPerRequest
            self.maxAttempts = maxAttempts
            self.initialBackoff = initialBackoff
            self.verificationLimit = verificationLimit
        }
    }

    public let data: any DataStore
    public let state: any StateStore
    public let policies: [Policy]
    /// Needed only by policies that hash or pseudonymize (the loader checks that).
    public let anonymizer: Anonymizer?
    public let options: Options
    let logger: Logger
    let now: @Sendable () -> Date

    public init(data: any DataStore, state: any StateStore, policies: [Policy], anonymizer: Anonymizer?,
                options: Options = Options(), logger: Logger = Logger(label: "lethe.engine"),
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.data = data
        self.state = state
        self.policies = policies
        self.anonymizer = anonymizer
        self.options = options
        self.logger = logger
        self.now = now
    }

    /// The same engine over another state store (a decorator, such as a lease renewer).
    public func with(state: any StateStore) -> ErasureEngine {
        ErasureEngine(data: data, state: state, policies: policies, anonymizer: anonymizer, options: options, logger: logger, now: now)
    }

    // MARK: Statements

    /// Every rule of every policy, made concrete for `subject`. Throws before anything
    /// is read when an id does not fit a policy's `idType`.
    public func statements(for subject: ErasureSubject) throws -> [RuleStatement] {
        let token = anonymizer?.token(for: subject)
        return zip(policies, try bindings(of: subject)).flatMap { policy, ids in
            policy.rules.map { RuleStatement(policy: policy, rule: $0, ids: ids, token: token) }
        }
    }

    /// The subject's ids typed as each policy says, in policy order. Throws before
    /// anything is read when an id does not fit a policy's `idType`.
    func bindings(of subject: ErasureSubject) throws -> [[BSON]] {
        var bindings: [[BSON]] = []
        for policy in policies {
            do {
                bindings.append(try SubjectBinding.bind(subject, idType: policy.subject.idType, includeIdentities: policy.subject.includeIdentities))
            } catch {
                throw EngineError.invalidSubject(policy: policy.name, error)
            }
        }
        return bindings
    }

    // MARK: Dry run

    /// What a request would do now, read-only: per rule, documents matched and to be
    /// changed. Sends no write command.
    public func plan(_ subject: ErasureSubject) async throws -> [PlannedRule] {
        var planned: [PlannedRule] = []
        for statement in try statements(for: subject) {
            let matched = try await retrying { try await data.count(statement.namespace, filter: statement.matchFilter) }
            var toChange = 0
            var retainedUntil: Date?
            if case .none = statement.write {
                retainedUntil = try await latestDueDate(statement)
            } else {
                toChange = try await retrying { try await data.count(statement.namespace, filter: statement.pendingFilter) }
            }
            planned.append(PlannedRule(statement: statement, matched: matched, toChange: toChange, retainedUntil: retainedUntil))
        }
        return planned
    }

    /// The limit that applies: the flag's, else the strictest policy's, else the default.
    public var documentLimit: Int {
        options.maxDocumentsPerRequest
            ?? policies.compactMap(\.maxDocumentsPerRequest).min()
            ?? Policy.defaultMaxDocumentsPerRequest
    }

    // MARK: Requests

    /// Records a request for `subject`, or returns the user's unfinished one so that it
    /// resumes. Refuses ids that do not fit the policies before recording anything.
    public func submit(_ subject: ErasureSubject, source: String, reason: String? = nil) async throws -> ErasureRequest {
        try await receive(subject, source: source, reason: reason).request
    }

    /// Like `submit`, for events: the same `dedupeKey` twice yields the one request
    /// (even when two workers take in the same event at once). `isNew` says whether
    /// this call recorded it.
    public func receive(
        _ subject: ErasureSubject, source: String, reason: String? = nil, dedupeKey: String? = nil
    ) async throws -> (request: ErasureRequest, isNew: Bool) {
        try await receiveAll([Arrival(subject: subject, dedupeKey: dedupeKey, source: source, reason: reason)])[0].get()
    }

    /// One event to take in with `receiveAll`.
    public struct Arrival: Sendable {
        public var subject: ErasureSubject
        public var dedupeKey: String?
        public var source: String
        public var reason: String?

        public init(subject: ErasureSubject, dedupeKey: String?, source: String, reason: String? = nil) {
            self.subject = subject
            self.dedupeKey = dedupeKey
            self.source = source
            self.reason = reason
        }
    }

    /// `receive` for many events at once, in a few round trips whatever their number:
    /// known event keys and users' open requests are looked up together, new requests
    /// inserted together. One result per arrival, in order: the request (and whether
    /// it is new), or why the ids were refused.
    public func receiveAll(_ arrivals: [Arrival]) async throws -> [Result<(request: ErasureRequest, isNew: Bool), EngineError>] {
        let key = SubjectPseudonymizer(key: try await state.subjectKey())
        var results = [Result<(request: ErasureRequest, isNew: Bool), EngineError>?](repeating: nil, count: arrivals.count)
        var valid: [Int] = []
        var rulesFor: [Int: [RuleStatement]] = [:]
        for (index, arrival) in arrivals.enumerated() {
            do {
                rulesFor[index] = try statements(for: arrival.subject)
                valid.append(index)
            } catch let error as EngineError {
                results[index] = .failure(error)
            }
        }
        let known = try await state.requests(dedupeKeys: valid.compactMap { arrivals[$0].dedupeKey })
        let pseudonyms = Dictionary(uniqueKeysWithValues: valid.map { ($0, key.pseudonym(for: arrivals[$0].subject)) })
        let open = try await state.openRequests(subjectPseudonyms: Array(Set(pseudonyms.values)))
        var fresh: [ErasureRequest] = []
        var freshIndex: [Int: Int] = [:]  // arrival -> position in fresh
        var newBySubject: [String: Int] = [:]
        let received = now()
        let deadline = policies.compactMap(\.deadline).min { $0.added(to: received) < $1.added(to: received) } ?? Policy.defaultDeadline
        for index in valid {
            let arrival = arrivals[index]
            let pseudonym = pseudonyms[index]!
            if let dedupeKey = arrival.dedupeKey, let existing = known[dedupeKey] {
                results[index] = .success((existing, false))
            } else if let existing = open[pseudonym] {
                results[index] = .success((existing, false))
            } else if let earlier = newBySubject[pseudonym] {
                // The same user twice in one delivery: one request.
                results[index] = .success((fresh[earlier], false))
            } else {
                var request = ErasureRequest(
                    id: ErasureRequest.newID(at: received), subjectPseudonym: pseudonym, subject: arrival.subject,
                    source: arrival.source, reason: arrival.reason, receivedAt: received, dueAt: deadline.added(to: received),
                    policies: policies.map { PolicyReference(name: $0.name, fingerprint: $0.fingerprint) }
                )
                request.rules = rulesFor[index]!.map {
                    RuleProgress(policy: $0.policyName, ruleIndex: $0.rule.index, namespace: $0.namespace.description, action: $0.actionName)
                }
                request.dedupeKey = arrival.dedupeKey
                freshIndex[index] = fresh.count
                newBySubject[pseudonym] = fresh.count
                fresh.append(request)
            }
        }
        let collided = try await state.insertAll(fresh)
        let winners = collided.isEmpty ? [:] : try await state.requests(dedupeKeys: Array(collided))
        for (index, position) in freshIndex {
            let request = fresh[position]
            if let key = request.dedupeKey, collided.contains(key), let winner = winners[key] {
                results[index] = .success((winner, false))
            } else {
                results[index] = .success((request, true))
            }
        }
        for request in fresh where !(request.dedupeKey.map(collided.contains) ?? false) {
            logger.debug("request received", metadata: [LogKey.request: .string(request.id), LogKey.subject: .string(request.subjectPseudonym)])
        }
        try await state.appendAudit(fresh.filter { !($0.dedupeKey.map(collided.contains) ?? false) }.map {
            AuditEntry.about($0, .received, at: received, note: "deletion request, due \(ISO8601DateFormatter().string(from: $0.dueAt ?? received))")
        })
        if !fresh.isEmpty {
            logger.info("requests received", metadata: ["lethe.new": .stringConvertible(fresh.count - collided.count), "lethe.arrivals": .stringConvertible(arrivals.count)])
        }
        return results.map { $0! }
    }

    /// Puts a failed request back in the queue.
    public func retry(requestId: String) async throws -> ErasureRequest {
        guard var request = try await state.request(id: requestId) else { throw EngineError.unknownRequest(requestId) }
        guard request.state == .failed else { throw EngineError.cannotRetry(requestId, request.state) }
        request.state = try RequestLifecycle.next(.failed, on: .retry)
        request.note = nil
        try await state.save(request)
        try await state.appendAudit([AuditEntry.about(request, .retried, at: now())])
        return request
    }

    /// Lets a request that waits for approval run past the guard rail.
    public func approve(requestId: String) async throws -> ErasureRequest {
        guard var request = try await state.request(id: requestId) else { throw EngineError.unknownRequest(requestId) }
        guard request.state == .needsApproval || request.state == .received || request.state == .failed else {
            throw EngineError.cannotApprove(requestId, request.state)
        }
        request.approved = true
        request.state = try RequestLifecycle.next(request.state, on: .approved)
        request.note = nil
        try await state.save(request)
        try await state.appendAudit([AuditEntry.about(request, .approved, at: now())])
        return request
    }

    /// Runs a request as far as it can go: to `done`, `failed`, `held` or
    /// `needs-approval`. Safe to call again on any request.
    public func process(_ stored: ErasureRequest) async throws -> ErasureRequest {
        var request = stored
        if request.state == .done { return request }
        guard let subject = request.subject?.subject else {
            throw EngineError.subjectMissing(request.id)
        }
        if let hold = try await state.activeHold(subjectPseudonym: request.subjectPseudonym) {
            request.state = try RequestLifecycle.next(request.state == .running ? .received : request.state, on: .holdFound)
            // The hold's reason is an operator's free text: it stays with the hold.
            request.note = "waiting: legal hold \(hold.id) covers this user; nothing was changed (`lethe hold list` shows why)"
            try await state.save(request)
            try await state.appendAudit([AuditEntry.about(request, .held, at: now(), note: "legal hold \(hold.id)")])
            logger.notice("request held", metadata: [LogKey.request: .string(request.id), LogKey.hold: .string(hold.id)])
            return request
        }
        if request.state == .held { request.state = try RequestLifecycle.next(.held, on: .holdLifted) }
        if request.state == .failed { request.state = try RequestLifecycle.next(.failed, on: .retry) }

        let statements = try statements(for: subject)
        guard rulesMatch(request) else {
            return try await fail(&request, note: Self.policiesChangedNote(request))
        }

        do {
            if request.state == .received || request.state == .needsApproval {
                // Count once, before any write: the guard rail and the receipt's "matched".
                if request.startedAt == nil || request.state == .needsApproval {
                    try await count(statements, into: &request)
                }
                let total = request.rules.reduce(0) { $0 + $1.planned }
                if total > documentLimit, !request.approved {
                    request.state = try RequestLifecycle.next(request.state, on: .overLimit)
                    request.note = "waiting for approval: it would change \(total) documents, more than the limit of \(documentLimit); run `lethe approve \(request.id)` to let it run"
                    try await state.save(request)
                    try await state.appendAudit([AuditEntry.about(request, .needsApproval, at: now(), note: "\(total) documents, limit \(documentLimit)")])
                    return request
                }
                request.state = try RequestLifecycle.next(request.state == .needsApproval ? .received : request.state, on: .start)
                request.startedAt = request.startedAt ?? now()
                request.note = nil
            }
            request.attempts += 1
            try await state.save(request)
            try await state.appendAudit([AuditEntry.about(request, .started, at: now(), note: "attempt \(request.attempts)")])

            let refs = ruleRefs
            for (index, statement) in statements.enumerated() where request.rules[index].stage == .pending {
                if case .retain(let retention) = statement.rule.action, retention.then != nil {
                    // Counted, dated and recorded in the ledger in one read, as in a batch.
                    let kept = try await retainCombined(statement, ref: refs[index], active: [0], bindings: [0: try bindings(of: subject)], requestIds: [request.id],
                                                        subjects: [0: subject], recording: retention.then != nil)[0] ?? RuleCount()
                    request.rules[index].retained = kept.documents
                    request.rules[index].retainReason = retention.reason
                    request.rules[index].retainedUntil = kept.dueAt
                } else {
                    try await apply(statement, progress: &request.rules[index])
                }
                request.rules[index].stage = .applied
                try await state.save(request)
            }
            try await verify(statements, request: &request)
        } catch let lost as LeaseLost {
            throw lost
        } catch {
            let note = (error as? any TransientFailure).map { "\($0)" } ?? "\(error)"
            return try await fail(&request, note: "stopped by an error, progress kept (run it again to resume): \(note)")
        }

        try conclude(&request)
        let finished = now()
        request.finishedAt = finished
        try await state.saveReceipt(Receipt(request: request, finishedAt: finished))
        try await state.appendAudit(Self.closingEntries(request, at: finished))
        if request.state == .done { request.subject = nil }  // the raw ids go with the data
        try await state.save(request)
        logger.info("request finished", metadata: [LogKey.request: .string(request.id), LogKey.state: .string(request.state.rawValue)])
        return request
    }

    private func fail(_ request: inout ErasureRequest, note: String) async throws -> ErasureRequest {
        request.state = .failed
        request.note = note
        try await state.save(request)
        try await state.appendAudit([AuditEntry.about(request, .failed, at: now(), note: note)])
        logger.error("request failed", metadata: [LogKey.request: .string(request.id), LogKey.reason: .string(note)])
        return request
    }

    private func count(_ statements: [RuleStatement], into request: inout ErasureRequest) async throws {
        for (index, statement) in statements.enumerated() {
            let matched = try await retrying { try await data.count(statement.namespace, filter: statement.matchFilter) }
            request.rules[index].matched = matched
            if case .none = statement.write {
                request.rules[index].planned = 0
            } else {
                request.rules[index].planned = try await retrying { try await data.count(statement.namespace, filter: statement.pendingFilter) }
            }
        }
    }

    // MARK: Applying one rule

    /// `batchDone`, when given, hears the documents written so far after each bounded
    /// batch (for a progress display).
    func apply(_ statement: RuleStatement, progress: inout RuleProgress,
               batchDone: (@Sendable (Int) -> Void)? = nil) async throws {
        let ns = statement.namespace
        switch statement.write {
        case .delete:
            progress.deleted += try await inBatches(ns, filter: statement.pendingFilter, expected: progress.planned, batchDone: batchDone) { filter in
                try await data.deleteMany(ns, filter: filter)
            }
        case .update(let update):
            progress.modified += try await inBatches(ns, filter: statement.pendingFilter, expected: progress.planned, batchDone: batchDone) { filter in
                try await data.updateMany(ns, filter: filter, update: update).modified
            }
        case .pull(let pulls):
            for pull in pulls {
                let before = progress.modified
                progress.modified += try await inBatches(ns, filter: pull.filter, expected: progress.planned,
                                                         batchDone: batchDone.map { done in { @Sendable written in done(before + written) } }) { filter in
                    try await data.updateMany(ns, filter: filter, update: pull.update).modified
                }
            }
        case .hashEach(let fields, let set, let unset):
            guard let anonymizer else { throw EngineError.keyMissing(policy: statement.policyName) }
            // Top-level fields, not the dotted paths: a nested projection's shape is
            // where servers differ, a whole sub-document is the same everywhere.
            var projection: BSONDocument = ["_id": 1]
            for field in fields { projection[String(field.prefix { $0 != "." })] = 1 }
            let total = ModifiedCounter()
            try await retrying {
                try await data.forEachBatch(ns, filter: statement.pendingFilter, projection: projection, batchSize: options.streamingBatchSize) { documents in
                    let updates: [UpdateStatement] = documents.compactMap { document in
                        guard let id = document["_id"],
                              let update = RuleStatement.hashUpdate(for: document, fields: fields, set: set, unset: unset, anonymizer: anonymizer)
                        else { return nil }
                        return UpdateStatement(filter: ["_id": id], update: update)
                    }
                    guard !updates.isEmpty else { return }
                    total.add(try await data.bulkUpdate(ns, updates).modified)
                    batchDone?(total.value)
                }
            }
            progress.modified += total.value
        case .none:
            progress.retained = progress.matched
            if case .retain(let retention) = statement.rule.action { progress.retainReason = retention.reason }
            progress.retainedUntil = try await latestDueDate(statement)
        }
    }

    /// Runs `write` once over `filter` when the set is small; otherwise in batches of
    /// `batchSize` documents picked by `_id`, until none is left.
    private func inBatches(_ ns: Namespace, filter: BSONDocument, expected: Int, batchDone: (@Sendable (Int) -> Void)? = nil,
                           _ write: (BSONDocument) async throws -> Int) async throws -> Int {
        if expected <= options.batchSize {
            let written = try await retrying { try await write(filter) }
            batchDone?(written)
            return written
        }
        var total = 0
        while true {
            let ids = try await retrying { try await data.ids(ns, filter: filter, limit: options.batchSize) }
            if ids.isEmpty { break }
            let batch = RuleStatement.allOf([filter, ["_id": ["$in": .array(ids)]]])
            total += try await retrying { try await write(batch) }
            batchDone?(total)
            if ids.count < options.batchSize { break }
        }
        return total
    }

    /// With `until`: the date on which the latest retained document's `then` falls due.
    private func latestDueDate(_ statement: RuleStatement) async throws -> Date? {
        guard let until = statement.retainUntil else { return nil }
        let latest = try await retrying {
            try await data.first(statement.namespace, filter: statement.matchFilter,
                                 sort: [until.field: -1], projection: [until.field: 1, "_id": 0])
        }
        guard let value = latest?.value(atPath: until.field), case .datetime(let date) = value else { return nil }
        return until.after.added(to: date.date)
    }


    /// Every rule of every policy with its policy's position, in the order of a
    /// request's `rules` (and of `statements(for:)`).
    var ruleRefs: [(policy: Int, rule: ErasureRule)] {
        policies.indices.flatMap { p in policies[p].rules.map { (p, $0) } }
    }

    /// Whether a request's recorded rules are still the policies' rules.
    func rulesMatch(_ request: ErasureRequest) -> Bool {
        let refs = ruleRefs
        return refs.count == request.rules.count
            && zip(refs, request.rules).allSatisfy { policies[$0.policy].name == $1.policy && $0.rule.index == $1.ruleIndex }
    }

    static func policiesChangedNote(_ request: ErasureRequest) -> String {
        "the policies changed since this request was recorded (\(request.policies.map(\.fingerprint).joined(separator: ", "))); run it again with the policies it was recorded under, or retry it to plan anew"
    }

    /// The verdict after verification: done, or failed with what is left where.
    func conclude(_ request: inout ErasureRequest) throws {
        let failures = request.rules.filter { $0.stage == .verificationFailed }
        if failures.isEmpty {
            request.state = try RequestLifecycle.next(request.state, on: .finish)
            return
        }
        request.state = try RequestLifecycle.next(request.state, on: .fail)
        request.note = "verification failed: " + failures.map {
            "\($0.remaining ?? 0)\(($0.remaining ?? 0) >= options.verificationLimit ? "+" : "") document(s) still match rule #\($0.ruleIndex + 1) (\($0.action)) of policy \($0.policy) on \($0.namespace)"
        }.joined(separator: "; ")
    }

    /// The entries that close a request.
    static func closingEntries(_ request: ErasureRequest, at date: Date) -> [AuditEntry] {
        [AuditEntry.closing(request, at: date)]
    }

    // MARK: Sweeps

    /// Applies every policy's `retention` rules at `now`: documents older than the
    /// period are deleted or anonymized, in bounded batches. With `dryRun`, only counts.
    /// `progress` hears each rule when it is done; `batchDone`, each rule's documents
    /// written so far out of those matched, after every bounded batch (for a progress
    /// bar: the engine itself draws nothing).
    public func sweep(dryRun: Bool, progress: @Sendable (SweepReport.Rule) -> Void = { _ in },
                      batchDone: @escaping @Sendable (SweepProgress) -> Void = { _ in }) async throws -> SweepReport {
        let started = now()
        var report = SweepReport(kind: "retention", dryRun: dryRun, startedAt: started, finishedAt: started, rules: [])
        for policy in policies {
            for retention in policy.retention {
                let statement = RuleStatement(policy: policy, retention: retention, now: started)
                var line = SweepReport.Rule(
                    policy: policy.name, ruleIndex: retention.index, namespace: statement.namespace.description,
                    action: statement.actionName, matched: 0, deleted: 0, modified: 0
                )
                line.matched = try await retrying { try await data.count(statement.namespace, filter: statement.pendingFilter) }
                if !dryRun, line.matched > 0 {
                    var applied = RuleProgress(policy: policy.name, ruleIndex: retention.index, namespace: line.namespace, action: line.action)
                    applied.planned = line.matched
                    let (matched, name) = (line.matched, line)
                    batchDone(SweepProgress(rule: name, done: 0, total: matched))
                    try await apply(statement, progress: &applied) { written in
                        batchDone(SweepProgress(rule: name, done: min(written, matched), total: matched))
                    }
                    line.deleted = applied.deleted
                    line.modified = applied.modified
                }
                report.rules.append(line)
                progress(line)
            }
        }
        for line in try await sweepRetainedDue(at: started, dryRun: dryRun) {
            report.rules.append(line)
            progress(line)
        }
        report.finishedAt = now()
        try await state.saveSweep(report)
        try await state.appendAudit([AuditEntry(
            at: report.finishedAt, event: .sweep, channel: "sweep",
            policies: policies.map { "\($0.name)@\($0.fingerprint)" },
            counts: ["matched": report.rules.reduce(0) { $0 + $1.matched }, "deleted": report.rules.reduce(0) { $0 + $1.deleted },
                     "modified": report.rules.reduce(0) { $0 + $1.modified }],
            note: "\(report.kind)\(dryRun ? " (dry run)" : "")"
        )])
        logger.info("sweep finished", metadata: [
            LogKey.state: .string(dryRun ? "dry-run" : "applied"),
            "lethe.documents": .stringConvertible(report.rules.reduce(0) { $0 + $1.deleted + $1.modified }),
        ])
        return report
    }

    // MARK: Verification

    private func verify(_ statements: [RuleStatement], request: inout ErasureRequest) async throws {
        for (index, statement) in statements.enumerated() {
            if case .none = statement.write {
                request.rules[index].stage = .verified
                continue
            }
            // `find` with a limit, not a count: it stops at the first leftovers, costs
            // nothing when none is left (the normal case), and is exact on every server.
            let left = try await retrying {
                try await data.ids(statement.namespace, filter: statement.pendingFilter, limit: options.verificationLimit)
            }
            request.rules[index].remaining = left.count
            request.rules[index].stage = left.isEmpty ? .verified : .verificationFailed
        }
    }

    // MARK: Retries

    func retrying<T: Sendable>(_ operation: () async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await operation()
            } catch let error as any TransientFailure where error.isTransient && attempt < options.maxAttempts {
                let base = options.initialBackoff * (1 << (attempt - 1))
                let jitter = Double.random(in: 0.5...1.5)
                logger.warning("transient error, retrying", metadata: [LogKey.attempt: .stringConvertible(attempt), LogKey.reason: .string("\(error)")])
                try await Task.sleep(for: base * jitter)
                attempt += 1
            }
        }
    }
}

/// What one sweep did (or, dry, would do), per rule. No personal data: counts only.
public struct SweepReport: Sendable, Hashable, Codable {
    public struct Rule: Sendable, Hashable, Codable {
        public var policy: String
        public var ruleIndex: Int
        public var namespace: String
        public var action: String
        /// Documents past their period (still needing the action); for an orphan
        /// sweep, the documents of the orphans that the rule covers.
        public var matched: Int
        public var deleted: Int
        public var modified: Int
        /// Orphan sweeps only: orphan ids (each a user to erase) that the rule's
        /// documents hold.
        public var users: Int?

        public init(policy: String, ruleIndex: Int, namespace: String, action: String, matched: Int, deleted: Int, modified: Int,
                    users: Int? = nil) {
            self.policy = policy
            self.ruleIndex = ruleIndex
            self.namespace = namespace
            self.action = action
            self.matched = matched
            self.deleted = deleted
            self.modified = modified
            self.users = users
        }
    }

    /// What an orphan sweep found, as counts (never an id).
    public struct Orphans: Sendable, Hashable, Codable {
        /// Distinct ids (of users and of their identities) the rules' documents hold.
        public var linked: Int
        /// Linked ids found in no users collection, without a request yet.
        public var orphans: Int
        /// Orphans first seen less than the grace period ago: left for a later sweep.
        public var waiting: Int
        /// Orphans with a request already (from an earlier sweep or a deletion event).
        public var alreadyRequested: Int
        /// Requests recorded by this sweep (0 in a dry run).
        public var requested: Int
        /// Ids that cannot be a request (not a plain id, or not of the policies' idType).
        public var refused: Int
        /// Why the sweep would stop, in a dry run that crossed a limit.
        public var refusal: String?

        public init(linked: Int, orphans: Int, waiting: Int, alreadyRequested: Int, requested: Int, refused: Int, refusal: String? = nil) {
            self.linked = linked
            self.orphans = orphans
            self.waiting = waiting
            self.alreadyRequested = alreadyRequested
            self.requested = requested
            self.refused = refused
            self.refusal = refusal
        }
    }

    /// `retention` for age-based sweeps (with the `then` of retained documents now
    /// due), `orphans` for the orphan sweep.
    public var kind: String
    public var dryRun: Bool
    public var startedAt: Date
    public var finishedAt: Date
    public var rules: [Rule]
    /// Orphan sweeps only.
    public var orphans: Orphans? = nil
}

/// How far one sweep rule has got: documents written out of those matched.
public struct SweepProgress: Sendable, Hashable {
    /// The rule, with its counts as they were before it started.
    public var rule: SweepReport.Rule
    public var done: Int
    public var total: Int

    public init(rule: SweepReport.Rule, done: Int, total: Int) {
        self.rule = rule
        self.done = done
        self.total = total
    }
}

/// A dry-run line: what one rule would do now.
public struct PlannedRule: Sendable {
    public let statement: RuleStatement
    public let matched: Int
    public let toChange: Int
    public let retainedUntil: Date?
}

/// Counts across the concurrent closure of a streamed batch loop.
final class ModifiedCounter: @unchecked Sendable {
    // @unchecked: `forEachBatch` calls its body serially; the lock is for the compiler's
    // benefit and for any store that might not.
    private let lock = NSLock()
    private var total = 0
    func add(_ count: Int) { lock.withLock { total += count } }
    func reset() { lock.withLock { total = 0 } }
    var value: Int { lock.withLock { total } }
}

public enum EngineError: Error, Sendable, CustomStringConvertible {
    case invalidSubject(policy: String, SubjectError)
    case unknownRequest(String)
    case cannotApprove(String, ErasureRequest.State)
    case subjectMissing(String)
    case keyMissing(policy: String)
    case cannotRetry(String, ErasureRequest.State)
    case retainedNotForgotten(Int)

    public var description: String {
        switch self {
        case .invalidSubject(let policy, let error):
            "\(error) (policy \(policy)); nothing was changed"
        case .unknownRequest(let id):
            "no request \(id) in the state database; `lethe requests` lists them"
        case .cannotApprove(let id, let state):
            "request \(id) is \(state.rawValue); only a request waiting for approval can be approved"
        case .subjectMissing(let id):
            "request \(id) no longer holds the user's ids (they are removed when a request finishes); submit a new request"
        case .retainedNotForgotten(let count):
            "\(count) retained document(s) whose `then` was applied could not be removed from the ledger (lethe.retained); the sweep stopped so as not to apply it twice"
        case .cannotRetry(let id, let state):
            "request \(id) is \(state.rawValue); only a failed request can be retried"
        case .keyMissing(let policy):
            "policy \(policy) hashes values but no key is configured: set LETHE_HASH_KEY"
        }
    }
}

/// Logging metadata keys, in one place and prefixed. Values are request ids,
/// pseudonyms, counts and codes: never a raw id, an email or a document.
public enum LogKey {
    public static let request = "lethe.request"
    public static let subject = "lethe.subject"
    public static let hold = "lethe.hold"
    public static let state = "lethe.state"
    public static let reason = "lethe.reason"
    public static let attempt = "lethe.attempt"
    public static let policy = "lethe.policy"
    /// `database.collection`: names of Lethe's own collections, never data.
    public static let namespace = "lethe.namespace"
    public static let retryIn = "lethe.retry-in"
}
