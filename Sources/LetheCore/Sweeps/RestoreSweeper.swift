import BSON
import Foundation

/// The restore sweep: after a backup is restored, the data of users erased since the
/// snapshot is back. Their tombstones (keyed HMACs of the erased ids, written when each
/// request finished) recognize it: every distinct value of every rule's match fields is
/// keyed and looked up, and each erased user found becomes an ordinary request (source
/// `restore-sweep`), erased by the same rules, with receipts and audit entries.
///
/// It never widens: only values whose tombstone matches become requests, with the
/// user's other tombstoned values of the same earlier request as identities. A value
/// that a users document created after the tombstone holds belongs to a user who signed
/// up again, and is kept (counted).
///
/// Memory holds the distinct values and their keys, never a collection: the rules'
/// documents are streamed as the orphan sweep reads them, tombstones are looked up
/// `lookupChunk` keys at a time.
public struct RestoreSweeper: Sendable {
    let engine: ErasureEngine

    public struct Options: Sendable {
        /// Only tombstones written at or after this date (the snapshot's date: users
        /// erased before it were not in the backup). Default nil: every tombstone.
        public var since: Date?
        /// Most requests one sweep records; the other users wait for the next sweep.
        /// Default 1,000.
        public var maxRequests: Int
        /// Keys per tombstone lookup, and values per users lookup. Default 5,000.
        public var lookupChunk: Int
        /// Whether a user found only by a named identifier (an email, no id) becomes a
        /// request. Default false: such a value may be a new account's, which no users
        /// document check can tell (the users collection is searched by id); say true
        /// only for data known to come from a restored backup.
        public var identifierOnly: Bool

        public init(since: Date? = nil, maxRequests: Int = 1_000, lookupChunk: Int = 5_000, identifierOnly: Bool = false) {
            self.since = since
            self.maxRequests = maxRequests
            self.lookupChunk = lookupChunk
            self.identifierOnly = identifierOnly
        }
    }

    /// A tombstoned value found in the data, with its tombstone.
    struct Found {
        /// The value as text (`TombstoneKeyer.text(of:)`): one per key.
        let text: String
        let tombstone: Tombstone
    }

    /// Finds the erased users whose data is back and (unless `dryRun`) records a request
    /// for each, at most `options.maxRequests`. The requests are carried out by the
    /// queue worker like any other.
    public func sweep(dryRun: Bool, options: Options = Options(),
                      progress: @Sendable (SweepReport.Rule) -> Void = { _ in }) async throws -> SweepReport {
        let started = engine.now()
        let keyer = TombstoneKeyer(key: try await engine.state.subjectKey())
        var counts = SweepReport.Restore()

        // Every distinct value the rules' documents hold, as text, by key. Documents a
        // `retain` rule keeps make no request: it would keep them again, and find them again.
        // Rules matched with lookup values only are skipped: lookup values are not
        // tombstoned (the request reads them again from the restored documents).
        var byKey: [TombstoneDigest: String] = [:]
        for policy in engine.policies {
            for rule in policy.rules where !rule.action.isRetain {
                let byUser = rule.using.contains(MatchSource.user)
                let byIdentifier = rule.using.contains { policy.subject.identifiers.contains($0) }
                guard byUser || byIdentifier else { continue }
                // Identifiers are strings whatever the ids' type.
                let idType: SubjectIDType? = byIdentifier ? .any : nil
                for value in try await engine.orphanSweeper.linkedIds(policy: policy, rule: rule, as: idType).ids {
                    guard let text = TombstoneKeyer.text(of: value) else { continue }
                    byKey[keyer.digest(for: text)] = text
                }
            }
        }
        counts.values = byKey.count

        // Their tombstones, a chunk of keys at a time.
        var found: [Found] = []
        let digests = Array(byKey.keys)
        let chunkSize = max(options.lookupChunk, 1)
        for start in stride(from: 0, to: digests.count, by: chunkSize) {
            var chunk: [String: TombstoneDigest] = [:]
            for digest in digests[start..<min(start + chunkSize, digests.count)] { chunk[digest.key] = digest }
            for (key, tombstone) in try await engine.state.tombstones(keys: Array(chunk.keys)) {
                if let since = options.since, tombstone.erasedAt < since { continue }
                guard let digest = chunk[key], let text = byKey[digest] else { continue }
                found.append(Found(text: text, tombstone: tombstone))
            }
        }
        byKey = [:]
        counts.tombstoned = found.count

        // Users who signed up again keep what their new account holds.
        let kept = try await reRegistered(found, options: options)
        counts.reRegistered = kept.after.count
        counts.creationUnknown = kept.unknown.count
        found.removeAll { kept.after.contains($0.text) || kept.unknown.contains($0.text) }

        // One user per earlier request: its values found, the user id first, and the
        // identifiers it carried.
        var subjects: [(tombstoneRequest: String, erasedAt: Date, subject: ErasureSubject, bindings: [[String: [BSON]]])] = []
        let everyPolicyErasesIdentities = engine.policies.allSatisfy(\.subject.includeIdentities)
        for (requestId, values) in Dictionary(grouping: found, by: \.tombstone.requestId).sorted(by: { $0.key < $1.key }) {
            var identifiers: [String: String] = [:]
            for value in values.sorted(by: { $0.text < $1.text }) {
                if let name = value.tombstone.kind.identifierName, identifiers[name] == nil { identifiers[name] = value.text }
            }
            let idValues = values.filter { $0.tombstone.kind.identifierName == nil }
            let texts = Array(Set(idValues.map(\.text)))
            let users = texts.filter { text in idValues.contains { $0.text == text && $0.tombstone.kind == .userId } }.sorted()
            let identities = texts.filter { !users.contains($0) }.sorted()
            // Only an identity was found: as the user id it would be erased under every
            // policy, also one that never erased identities; that would widen.
            let userId = users.first ?? (everyPolicyErasesIdentities ? identities.first : nil)
            if userId == nil, !identities.isEmpty {
                counts.refused += 1
                continue
            }
            // Only identifiers were found: an email can belong to a new account that
            // signed up with it after the erasure, and nothing here tells the two
            // apart; such users are counted and left unless the operator says the data
            // is a restored backup's (`identifierOnly`).
            if userId == nil, !options.identifierOnly {
                counts.identifierOnly += 1
                if counts.identifierOnlyRequests.count < SweepReport.Restore.listedRequests {
                    counts.identifierOnlyRequests.append(requestId)
                }
                continue
            }
            let subject = ErasureSubject(userId: userId, identities: (users.dropFirst() + identities).filter { $0 != userId },
                                        identifiers: identifiers)
            guard let bindings = try? engine.bindings(of: subject) else {
                counts.refused += 1
                continue
            }
            subjects.append((requestId, values.map(\.tombstone.erasedAt).max()!, subject, bindings))
        }
        counts.users = subjects.count

        let pseudonymizer = SubjectPseudonymizer(key: try await engine.state.subjectKey())
        let pseudonyms = subjects.map { pseudonymizer.pseudonym(for: $0.subject) }
        let open = try await engine.state.openRequests(subjectPseudonyms: Array(Set(pseudonyms)))
        var fresh = zip(subjects, pseudonyms).filter { open[$0.1] == nil }.map(\.0)
        counts.alreadyRequested = subjects.count - fresh.count
        if fresh.count > options.maxRequests {
            counts.overLimit = fresh.count - options.maxRequests
            fresh = Array(fresh.prefix(options.maxRequests))
        }

        var report = SweepReport(kind: .restore, dryRun: dryRun, startedAt: started, finishedAt: started, rules: [])
        // The values each rule would match for these users, their lookups read as a
        // request would read them (one read per lookup for all).
        var sources = fresh.map(\.bindings)
        _ = try await LookupResolver(engine: engine).resolve(&sources)
        for rule in engine.policyRules where !rule.rule.action.isRetain {
            let ids = sources.flatMap { MatchSource.values(of: rule.rule.using, in: $0[rule.policyIndex]) }
            let statement = RuleStatement(policy: rule.policy, rule: rule.rule, ids: [], token: nil)
            var line = SweepReport.Rule(policy: rule.policy.name, ruleIndex: rule.rule.index, namespace: statement.namespace.description,
                                        action: SweepReport.Action(rule.rule.action.kind))
            for chunk in ids.chunked(into: engine.options.batchSize) {
                let filter = RuleStatement(policy: rule.policy, rule: rule.rule, ids: chunk, token: nil).matchFilter
                line.matched += try await engine.retrying { try await engine.data.count(statement.namespace, filter: filter) }
            }
            report.rules.append(line)
            progress(line)
        }

        if !dryRun {
            let at = BSONDatetime(started).millisecondsSinceEpoch
            let arrivals = fresh.map { user in
                RequestAdmission.Arrival(
                    subject: user.subject, dedupeKey: "\(Channel.restoreSweep.rawValue):\(user.tombstoneRequest):\(at)", source: .restoreSweep,
                    reason: "restore sweep: data erased by \(user.tombstoneRequest) on \(ISO8601DateFormatter().string(from: user.erasedAt)) is back (a restored backup?)")
            }
            let (recorded, refused) = try await engine.admission.receiveInChunks(arrivals, chunkSize: engine.options.batchSize)
            counts.requested += recorded
            counts.refused += refused
        }
        report.restore = counts
        report.finishedAt = engine.now()
        try await engine.state.saveSweep(report)
        try await engine.state.appendAudit([AuditEntry(
            at: report.finishedAt, event: .sweep, channel: .restoreSweep, policies: engine.policyLabels,
            counts: ["values": counts.values, "tombstoned": counts.tombstoned, "reRegistered": counts.reRegistered,
                     "creationUnknown": counts.creationUnknown, "users": counts.users, "alreadyRequested": counts.alreadyRequested,
                     "overLimit": counts.overLimit, "requested": counts.requested, "refused": counts.refused,
                     "identifierOnly": counts.identifierOnly],
            note: "restore\(dryRun ? " (dry run)" : "")\(options.since.map { ", since \(ISO8601DateFormatter().string(from: $0))" } ?? "")"
        )])
        engine.logger.info("restore sweep finished", metadata: [
            LogKey.state: .string(dryRun ? "dry-run" : "applied"), LogKey.requested: .stringConvertible(counts.requested),
        ])
        return report
    }

    /// The tombstoned values (as text) that a users document holds which was created
    /// after the value's tombstone (`after`), or whose creation time is unknown
    /// (`unknown`). A users document created before the tombstone is the erased
    /// account itself, restored: its values go ahead.
    private func reRegistered(_ found: [Found], options: Options) async throws -> (after: Set<String>, unknown: Set<String>) {
        var after = Set<String>()
        var unknown = Set<String>()
        guard !found.isEmpty else { return (after, unknown) }
        var tombstoneOf: [String: Tombstone] = [:]
        for item in found { tombstoneOf[item.text] = item.tombstone }
        var sources: [(namespace: Namespace, users: UsersSpec)] = []
        for policy in engine.policies {
            guard let users = policy.users, let namespace = policy.usersNamespace else { continue }
            if !sources.contains(where: { $0.namespace == namespace && $0.users == users }) { sources.append((namespace, users)) }
        }
        // Every typed form of each text is asked for (`OrphanSweeper.forms`), as the data
        // and the users collection may type the id apart.
        let values = found.map { BSON.string($0.text) }
        for source in sources {
            let paths = [source.users.field] + (source.users.identities.map { [$0] } ?? [])
            var projection: BSONDocument = ["_id": 1]
            for path in paths + (source.users.created.map { [$0] } ?? []) { projection[String(path.prefix { $0 != "." })] = 1 }
            for chunk in values.chunked(into: options.lookupChunk) {
                let forms = Array(Set(chunk.flatMap(OrphanSweeper.forms(of:))))
                let clauses: [BSON] = paths.flatMap { path in OrphanSweeper.byType(forms).map { ids -> BSON in [path: ["$in": .array(ids)]] } }
                let verdicts = VerdictCollector()
                let (users, found) = (source.users, tombstoneOf)
                try await engine.retrying {
                    verdicts.reset()
                    try await engine.data.forEachBatch(source.namespace, filter: ["$or": .array(clauses)], projection: projection,
                                                       batchSize: engine.options.streamingBatchSize) { documents in
                        for document in documents {
                            let created = Self.creationTime(of: document, users: users)
                            for value in paths.flatMap({ document.values(atPath: $0) }) {
                                guard let text = TombstoneKeyer.text(of: value), let tombstone = found[text] else { continue }
                                if let created {
                                    if created > tombstone.erasedAt { verdicts.after(text) }
                                } else {
                                    verdicts.unknown(text)
                                }
                            }
                        }
                    }
                }
                after.formUnion(verdicts.afterTexts)
                unknown.formUnion(verdicts.unknownTexts)
            }
        }
        return (after, unknown.subtracting(after))
    }

    /// When a users document was created: its `users.created` date when the policy
    /// names that field, else the time in its ObjectId `_id`; nil when neither says.
    static func creationTime(of document: BSONDocument, users: UsersSpec) -> Date? {
        if let field = users.created {
            if case .datetime(let date)? = document.value(atPath: field) { return date.date }
            return nil
        }
        if case .objectId(let id)? = document["_id"] {
            let seconds = id.bytes.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            return Date(timeIntervalSince1970: TimeInterval(seconds))
        }
        return nil
    }
}

/// Collects the users lookup's verdicts from a streamed batch loop.
final class VerdictCollector: @unchecked Sendable {
    // @unchecked: `forEachBatch` calls its body serially; the lock is for the compiler.
    private let lock = NSLock()
    private var afterSet = Set<String>()
    private var unknownSet = Set<String>()
    func after(_ text: String) { lock.withLock { _ = afterSet.insert(text) } }
    func unknown(_ text: String) { lock.withLock { _ = unknownSet.insert(text) } }
    func reset() { lock.withLock { afterSet.removeAll(); unknownSet.removeAll() } }
    var afterTexts: Set<String> { lock.withLock { afterSet } }
    var unknownTexts: Set<String> { lock.withLock { unknownSet } }
}
