import BSON
import Foundation

/// The orphan sweep: ids that the data links to but that belong to no existing user
/// (found in no policy's `users` collection) are deleted users whose deletion event
/// never arrived. Each becomes an ordinary request, erased by the same rules.
///
/// Reads are streamed: the distinct values at each rule's match paths
/// (`DataStore.valueGroups`: on MongoDB one aggregation grouping them, which flattens
/// arrays and reaches into arrays of documents as a query's match does), and the users
/// collections by `$in` of the linked ids, a batch at a time, so memory holds the
/// distinct linked ids (with a document count each), never a collection. Not
/// `distinct`: it answers in one reply of at most 16 MB.
public struct OrphanSweeper: Sendable {
    let engine: ErasureEngine

    public struct Options: Sendable {
        /// Refuse when more orphan ids than this are found. Default 100.
        public var maxOrphans: Int
        /// Refuse when the orphans are more than this share (0 to 1) of the linked
        /// ids. Default 0.1 (10 %).
        public var maxShare: Double
        /// Go on past both limits. Default false.
        public var allowMany: Bool

        public init(maxOrphans: Int = 100, maxShare: Double = 0.1, allowMany: Bool = false) {
            self.maxOrphans = maxOrphans
            self.maxShare = maxShare
            self.allowMany = allowMany
        }
    }


    /// Finds the orphans of every policy with `users`, and (unless `dryRun`) records a
    /// request for each one first seen at least the grace period ago. The requests
    /// are carried out by the queue worker like any other. Throws `OrphanSweepError`
    /// before recording anything when a users collection is empty or lacks its field,
    /// or when the orphans cross a limit; a dry run reports the limit instead.
    public func sweep(dryRun: Bool, options: Options = Options(),
                             progress: @Sendable (SweepReport.Rule) -> Void = { _ in }) async throws -> SweepReport {
        let started = engine.now()
        let withUsers = engine.policies.filter { $0.users != nil }
        guard !withUsers.isEmpty else { throw OrphanSweepError.noUsersConfigured }
        try await checkUsersCollections(withUsers)

        // Every id each rule's documents link to, typed as the policy says.
        var linkedByRule: [(policy: Policy, rule: ErasureRule, linked: LinkedIds)] = []
        var linked = Set<BSON>()
        for policy in withUsers {
            // Only rules matched with the user's own ids: values of identifiers (an email)
            // or lookups (a post's id) are not user ids, and no users document holds them.
            for rule in policy.rules where rule.using.contains(MatchSource.user) {
                let ruleLinked = try await linkedIds(policy: policy, rule: rule)
                linkedByRule.append((policy, rule, ruleLinked))
                // Documents a `retain` rule keeps do not make their user an orphan: a
                // request would change nothing there, and an erased user's retained
                // documents would bring them back as an orphan at every sweep.
                if !rule.action.isRetain { linked.formUnion(ruleLinked.ids) }
            }
        }
        let orphanIds = try await unlisted(linked)

        // One user per id text: an ObjectId and the string of its hex are one user. An
        // identity id counts as its own: once the users document is gone, nothing says
        // whose it was, and its own request erases what it links to.
        let linkedUsers = Set(linked.compactMap(Self.user(of:))).count
        var subjects: [IdText: ErasureSubject] = [:]
        var refused = 0
        for user in Set(orphanIds.compactMap(Self.user(of:))) {
            do {
                try SubjectBinding.checkPlain(user.text, which: "an orphan id")
                subjects[user] = ErasureSubject(userId: user.text)
            } catch {
                refused += 1
            }
        }
        let key = SubjectPseudonymizer(key: try await engine.state.subjectKey())
        let pseudonyms = subjects.mapValues { key.pseudonym(for: $0) }
        let dedupeKeys = pseudonyms.mapValues { "\(Channel.orphanSweep.rawValue):\($0)" }
        let known = try await engine.state.requests(dedupeKeys: Array(dedupeKeys.values))
        let open = try await engine.state.openRequests(subjectPseudonyms: Array(pseudonyms.values))
        let fresh = subjects.keys.filter { known[dedupeKeys[$0]!] == nil && open[pseudonyms[$0]!] == nil }.sorted()

        var counts = SweepReport.Orphans(linked: linkedUsers, orphans: fresh.count, waiting: 0,
                                         alreadyRequested: subjects.count - fresh.count, requested: 0, refused: refused)
        if !options.allowMany, let limit = Self.limitCrossed(orphans: fresh.count, linked: linkedUsers, options: options) {
            counts.refusal = limit
            if !dryRun {
                try await engine.state.appendAudit([AuditEntry(
                    at: engine.now(), event: .sweep, channel: .orphanSweep, policies: withUsers.map { "\($0.name)@\($0.fingerprint)" },
                    counts: ["linked": linkedUsers, "orphans": fresh.count], note: "orphans: refused, \(limit)"
                )])
                throw OrphanSweepError.tooMany(orphans: fresh.count, linked: linkedUsers, limit: limit)
            }
        }

        // The grace period: a user created moments ago may have data before the app
        // has written their users document. Only orphans seen that long ago go ahead.
        let grace = withUsers.map(\.users!.effectiveGrace).max { $0.added(to: started) < $1.added(to: started) }!
        let firstSeen = try await engine.state.orphanCandidates(subjectPseudonyms: fresh.map { pseudonyms[$0]! })
        let due = fresh.filter { text in firstSeen[pseudonyms[text]!].map { grace.added(to: $0) <= started } ?? false }
        counts.waiting = fresh.count - due.count

        // Per rule: the orphans it links to and their documents it covers.
        let freshTexts = Set(fresh)
        var report = SweepReport(kind: .orphans, dryRun: dryRun, startedAt: started, finishedAt: started, rules: [])
        for (policy, rule, ruleLinked) in linkedByRule {
            let ruleOrphans = ruleLinked.ids.filter { id in orphanIds.contains(id) && Self.user(of: id).map(freshTexts.contains) == true }
            let statement = RuleStatement(policy: policy, rule: rule, ids: [], token: nil)
            var line = SweepReport.Rule(
                policy: policy.name, ruleIndex: rule.index, namespace: statement.namespace.description,
                action: SweepReport.Action(rule.action.kind),
                users: Set(ruleOrphans.compactMap(Self.user(of:))).count
            )
            // The read's own counts where they are exact; a count command otherwise.
            if let counted = ruleLinked.documents(holdingAnyOf: ruleOrphans) {
                line.matched = counted
            } else {
                for chunk in Array(ruleOrphans).chunked(into: engine.options.batchSize) {
                    let filter = RuleStatement(policy: policy, rule: rule, ids: chunk, token: nil).matchFilter
                    line.matched += try await engine.retrying { try await engine.data.count(statement.namespace, filter: filter) }
                }
            }
            report.rules.append(line)
            progress(line)
        }

        if !dryRun {
            try await engine.state.recordOrphanCandidates(fresh.map { pseudonyms[$0]! }, at: started)
            let arrivals = due.map {
                RequestAdmission.Arrival(subject: subjects[$0]!, dedupeKey: dedupeKeys[$0]!, source: .orphanSweep,
                        reason: "orphan sweep: the user's ids are linked from the data, but no users collection lists them")
            }
            let (recorded, refused) = try await engine.admission.receiveInChunks(arrivals, chunkSize: engine.options.batchSize)
            counts.requested += recorded
            counts.refused += refused
        }
        report.orphans = counts
        report.finishedAt = engine.now()
        try await engine.state.saveSweep(report)
        try await engine.state.appendAudit([AuditEntry(
            at: report.finishedAt, event: .sweep, channel: .orphanSweep,
            policies: withUsers.map { "\($0.name)@\($0.fingerprint)" },
            counts: ["linked": counts.linked, "orphans": counts.orphans, "waiting": counts.waiting,
                     "alreadyRequested": counts.alreadyRequested, "requested": counts.requested, "refused": counts.refused],
            note: "orphans\(dryRun ? " (dry run)" : "")\(counts.refusal.map { ", would be refused: \($0)" } ?? "")"
        )])
        engine.logger.info("orphan sweep finished", metadata: [
            LogKey.state: .string(dryRun ? "dry-run" : "applied"),
            LogKey.orphans: .stringConvertible(counts.orphans), LogKey.requested: .stringConvertible(counts.requested),
        ])
        return report
    }

    /// Why `orphans` out of `linked` ids is too many under `options`, or nil.
    public static func limitCrossed(orphans: Int, linked: Int, options: Options) -> String? {
        if orphans > options.maxOrphans {
            return "\(orphans) orphan id(s), more than the limit of \(options.maxOrphans)"
        }
        if linked > 0, Double(orphans) > options.maxShare * Double(linked) {
            let percent = (Double(orphans) * 100 / Double(linked)).rounded()
            return "\(orphans) orphan id(s) are \(Int(percent)) % of the \(linked) linked ids, more than the limit of \(Self.percent(options.maxShare)) %"
        }
        return nil
    }

    private static func percent(_ share: Double) -> String {
        let value = share * 100
        return value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
    }

    /// A users collection that is empty, missing, or without the field would make
    /// every user an orphan: most likely a wrong name in the policy.
    private func checkUsersCollections(_ withUsers: [Policy]) async throws {
        for policy in withUsers {
            let (namespace, users) = (policy.usersNamespace!, policy.users!)
            // One document answers each question; a count would read them all.
            func any(_ filter: BSONDocument) async throws -> Bool {
                try await engine.retrying { try await engine.data.first(namespace, filter: filter, sort: [:], projection: ["_id": 1]) } != nil
            }
            guard try await any([:]) else { throw OrphanSweepError.usersCollectionEmpty(policy: policy.name, namespace: namespace) }
            // The identities field too: named but held by no users document, every user
            // who signed in with a linked identity would look orphaned.
            for field in [users.field] + (users.identities.map { [$0] } ?? []) {
                guard try await any([field: ["$exists": true]]) else {
                    throw OrphanSweepError.usersFieldMissing(policy: policy.name, namespace: namespace, field: field)
                }
            }
        }
    }

    /// The distinct ids of the policy's id type held at the rule's match paths, over
    /// the documents the rule covers (its `where` included), with how many documents
    /// hold each where the store counted them. The restore sweep reads the same way.
    func linkedIds(policy: Policy, rule: ErasureRule, as idType: SubjectIDType? = nil) async throws -> LinkedIds {
        let namespace = Namespace(database: policy.database, collection: rule.collection)
        let (scope, idType, data) = (rule.scope ?? [:], idType ?? policy.subject.idType, engine.data)
        let collected = LinkedIdsCollector()
        try await engine.retrying {
            collected.reset()
            for path in rule.match {
                try await data.valueGroups(namespace, filter: scope, path: path, batchSize: engine.options.batchSize) { groups in
                    collected.add(groups.map { ValueGroup(values: $0.values.filter { Self.isID($0, of: idType) }, documents: $0.documents) })
                }
            }
        }
        var linked = collected.value
        // A document matched through two paths would be counted twice.
        if rule.match.count > 1 { linked.documents = nil }
        return linked
    }

    /// The linked ids no users collection lists (at `field` or `identities`) in any
    /// of their forms. First each id as the data holds it, then the other forms of
    /// those not found (an ObjectId for its hex string, and back): a users collection
    /// usually stores the type the data does, so the second question is about the few
    /// ids still missing, not all of them again.
    private func unlisted(_ linked: Set<BSON>) async throws -> Set<BSON> {
        var existing = try await usersHolding(Array(linked))
        // An id found as it is needs no look at its forms.
        func missing(_ ids: Set<BSON>) -> Set<BSON> {
            ids.filter { !existing.contains($0) && Self.forms(of: $0).isDisjoint(with: existing) }
        }
        let notFound = missing(linked)
        existing.formUnion(try await usersHolding(Array(Set(notFound.flatMap(Self.forms(of:))).subtracting(notFound))))
        return missing(notFound)
    }

    /// Every form of the values the users collections hold among `values`, looked up
    /// a batch at a time.
    private func usersHolding(_ values: [BSON]) async throws -> Set<BSON> {
        var existing = Set<BSON>()
        var sources: [(namespace: Namespace, paths: [String])] = []
        for policy in engine.policies {
            guard let users = policy.users, let namespace = policy.usersNamespace else { continue }
            let paths = [users.field] + (users.identities.map { [$0] } ?? [])
            if !sources.contains(where: { $0.namespace == namespace && $0.paths == paths }) { sources.append((namespace, paths)) }
        }
        for chunk in values.chunked(into: engine.options.batchSize) {
            for source in sources {
                // One `$in` per BSON type: mixed-type `$in` is where servers differ.
                let clauses: [BSON] = source.paths.flatMap { path in
                    Self.byType(chunk).map { ids -> BSON in [path: ["$in": .array(ids)]] }
                }
                var projection: BSONDocument = ["_id": 1]
                for path in source.paths { projection[String(path.prefix { $0 != "." })] = 1 }
                let found = IDCollector()
                let paths = source.paths
                try await engine.retrying {
                    found.reset()
                    try await engine.data.forEachBatch(source.namespace, filter: clauses.count == 1 ? clauses[0].documentValue! : ["$or": .array(clauses)],
                                                       projection: projection, batchSize: engine.options.batchSize) { documents in
                        found.add(documents.flatMap { document in paths.flatMap { document.values(atPath: $0) } })
                    }
                }
                for value in found.ids { existing.formUnion(Self.forms(of: value)) }
            }
        }
        return existing
    }

    /// Whether `value` can be a user id of `idType` in the engine.data. Lethe's own tokens
    /// and hashes are not: an anonymized document keeps them in its match field, and
    /// they belong to no users document by design.
    static func isID(_ value: BSON, of idType: SubjectIDType) -> Bool {
        switch (value, idType) {
        case (.string(let text), .string), (.string(let text), .any): !isLetheValue(text)
        case (.objectId, .objectId), (.objectId, .any): true
        case (.binary(let binary), .uuid), (.binary(let binary), .any): binary.data.count == 16 && binary.subtype == BSONBinary.subtypeUUID
        default: false
        }
    }

    /// `anon_` and 24 hex digits (a pseudonym token), or `h1:` and 32 (a hash).
    static func isLetheValue(_ text: String) -> Bool {
        func hex(_ rest: Substring, count: Int) -> Bool { rest.count == count && rest.allSatisfy(\.isHexDigit) }
        if text.hasPrefix(Anonymizer.tokenPrefix) { return hex(text.dropFirst(Anonymizer.tokenPrefix.count), count: 24) }
        if text.hasPrefix(Anonymizer.hashPrefix) { return hex(text.dropFirst(Anonymizer.hashPrefix.count), count: 32) }
        return false
    }

    /// The id as text, as a request holds it: a string as written, an ObjectId as its
    /// hex digits, a UUID in its lower-case form.
    /// The user an id stands for: its text, compared as bytes.
    static func user(of value: BSON) -> IdText? { text(of: value).map(IdText.init) }

    static func text(of value: BSON) -> String? {
        switch value {
        case .string(let text): text
        case .objectId(let id): id.hex
        case .binary(let binary): binary.uuid?.uuidString.lowercased()
        default: nil
        }
    }

    /// The id and every typed form of its text: a users collection may store the id as
    /// another type than the data does (an ObjectId there, its hex string here).
    static func forms(of value: BSON) -> Set<BSON> {
        var forms: Set<BSON> = [value]
        guard let text = text(of: value) else { return forms }
        forms.insert(.string(text))
        if let id = BSONObjectId(text) { forms.insert(.objectId(id)) }
        if let uuid = UUID(uuidString: text) {
            forms.insert(.binary(BSONBinary(uuid: uuid)))
            forms.insert(.string(uuid.uuidString))
        }
        return forms
    }

    /// Ids split by BSON type, one `$in` each: the users collection is asked one
    /// question per type its ids could have.
    static func byType(_ ids: [BSON]) -> [[BSON]] {
        Dictionary(grouping: ids, by: \.typeByte).sorted { $0.key < $1.key }.map(\.value)
    }
}

/// The ids a rule's documents link to (`OrphanSweeper.linkedIds`).
struct LinkedIds: Sendable {
    var ids = Set<BSON>()
    /// Documents holding each id; nil when a group came without a count.
    var documents: [BSON: Int]? = [:]
    /// Ids a document holds together with another id: their counts overlap.
    var shared = Set<BSON>()

    /// How many documents hold one of `some` of the ids, or nil when the groups
    /// cannot say exactly (uncounted, or a document holding two of them).
    func documents(holdingAnyOf some: Set<BSON>) -> Int? {
        guard let documents, some.isDisjoint(with: shared) else { return nil }
        return some.reduce(0) { $0 + (documents[$1] ?? 0) }
    }

    mutating func add(_ group: ValueGroup) {
        guard !group.values.isEmpty else { return }
        ids.formUnion(group.values)
        if group.values.count > 1 { shared.formUnion(group.values) }
        guard let count = group.documents else { documents = nil; return }
        for id in group.values { documents?[id, default: 0] += count }
    }
}

/// Collects the ids of a streamed batch loop.
final class LinkedIdsCollector: @unchecked Sendable {
    // @unchecked: `valueGroups` calls its body serially; the lock is for the compiler's
    // benefit and for any store that might not.
    private let lock = NSLock()
    private var collected = LinkedIds()
    func add(_ groups: [ValueGroup]) { lock.withLock { groups.forEach { collected.add($0) } } }
    func reset() { lock.withLock { collected = LinkedIds() } }
    var value: LinkedIds { lock.withLock { collected } }
}

/// Collects the values of a streamed batch loop.
final class IDCollector: @unchecked Sendable {
    // @unchecked: `forEachBatch` calls its body serially; the lock is for the compiler's
    // benefit and for any store that might not.
    private let lock = NSLock()
    private var collected = Set<BSON>()
    func add(_ values: [BSON]) { lock.withLock { collected.formUnion(values) } }
    func reset() { lock.withLock { collected.removeAll() } }
    var ids: Set<BSON> { lock.withLock { collected } }
}

/// Why the orphan sweep stopped before recording anything. Names policies, namespaces
/// and counts, never an id.
public enum OrphanSweepError: Error, Sendable, CustomStringConvertible {
    case noUsersConfigured
    case usersCollectionEmpty(policy: String, namespace: Namespace)
    case usersFieldMissing(policy: String, namespace: Namespace, field: String)
    case tooMany(orphans: Int, linked: Int, limit: String)

    public var description: String {
        switch self {
        case .noUsersConfigured:
            "no policy says where its users are listed, so no orphan can be told apart; add e.g. "
                + "`users: { collection: custom_user_data, field: user_id }` to the policy (docs/policies.md, users)"
        case .usersCollectionEmpty(let policy, let namespace):
            "the users collection \(namespace) of policy \(policy) is empty or does not exist, so every user would look "
                + "orphaned; nothing was changed. Check users.collection (and users.database) in the policy"
        case .usersFieldMissing(let policy, let namespace, let field):
            "no document of the users collection \(namespace) of policy \(policy) has the field '\(field)', so every user "
                + "would look orphaned; nothing was changed. Check users.field and users.identities in the policy, and that the app writes that field"
        case .tooMany(let orphans, let linked, let limit):
            "refusing: \(limit) (\(orphans) of \(linked)); nothing was changed. A wrong users collection or field makes "
                + "users look orphaned: check the policy's users, run `lethe sweep --orphans --dry-run`, and if the orphans "
                + "are real, run again with --allow-many (or raise --max-orphans / --max-orphan-percent)"
        }
    }
}
