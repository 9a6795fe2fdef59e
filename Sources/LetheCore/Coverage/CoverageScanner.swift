import BSON
import Foundation

/// The coverage report: samples each collection of the policies' databases and tells
/// which field paths hold personal-looking values that no rule covers. It reads the
/// sample and looks the sampled candidate ids up in the users collections; it never
/// writes, and keeps counts, never values, past the collection it is examining.
public struct CoverageScanner: Sendable {
    public struct Options: Sendable {
        /// The largest sample accepted.
        public static let maximumSample = 10_000

        /// Documents sampled per collection (`$sample`). Default 1,000; at most 10,000.
        public var sample: Int
        /// Databases to examine. Default nil: every policy's database and users database.
        public var databases: [String]?
        /// Databases never examined (Lethe's state database). Default none.
        public var excludedDatabases: [String]
        /// Deepest path followed, in fields (array levels not counted). Default 12.
        public var maxDepth: Int
        /// Distinct paths examined per collection; the others are counted as omitted.
        /// Default 500.
        public var maxPathsPerCollection: Int
        /// Distinct candidate ids looked up per collection. Default 50,000.
        public var maxCandidates: Int
        /// Candidate ids per users lookup. Default 5,000: few, large lookups.
        public var lookupChunk: Int

        public init(sample: Int = 1_000, databases: [String]? = nil, excludedDatabases: [String] = [], maxDepth: Int = 12,
                    maxPathsPerCollection: Int = 500, maxCandidates: Int = 50_000, lookupChunk: Int = 5_000) {
            self.sample = min(max(sample, 1), Self.maximumSample)
            self.databases = databases
            self.excludedDatabases = excludedDatabases
            self.maxDepth = maxDepth
            self.maxPathsPerCollection = maxPathsPerCollection
            self.maxCandidates = maxCandidates
            self.lookupChunk = lookupChunk
        }
    }

    let policies: [Policy]
    let data: any DataStore
    let sampler: any DataSampler
    let options: Options

    public init(policies: [Policy], data: any DataStore, sampler: any DataSampler, options: Options = Options()) {
        self.policies = policies
        self.data = data
        self.sampler = sampler
        self.options = options
    }

    /// The databases examined, in order.
    public var databases: [String] {
        var seen = Set(options.excludedDatabases)
        let named = options.databases ?? policies.flatMap { [$0.database] + ($0.usersNamespace.map { [$0.database] } ?? []) }
        return named.filter { seen.insert($0).inserted }
    }

    public func scan(progress: @Sendable (CoverageReport.Collection) -> Void = { _ in }) async throws -> CoverageReport {
        var report = CoverageReport(generatedAt: Date(), sampleSize: options.sample, databases: databases,
                                    usersKnown: policies.contains { $0.users != nil }, collections: [])
        for database in databases {
            for name in try await sampler.collectionNames(database: database).sorted() where !name.hasPrefix("system.") {
                let collection = try await scan(Namespace(database: database, collection: name))
                report.collections.append(collection)
                progress(collection)
            }
        }
        return report
    }

    /// What one path's sampled values were, while its collection is examined.
    struct PathTally {
        var values = 0
        var kinds: [ValueKind: Int] = [:]
        /// Candidate ids (as text) and how many sampled values had each.
        var candidates: [String: Int] = [:]
    }

    func scan(_ namespace: Namespace) async throws -> CoverageReport.Collection {
        let documents = try await sampler.sample(namespace, size: options.sample)
        var tallies: [String: PathTally] = [:]
        var omitted = Set<String>()
        var candidates = Set<BSON>()
        // A document's own `_id` is a user id only in a users collection keyed by it;
        // elsewhere it would cost a lookup per sampled document for nothing.
        let idsAreUsers = policies.contains { $0.usersNamespace == namespace && $0.users?.field == "_id" }
        func visit(_ value: BSON, _ path: String, depth: Int) {
            switch value {
            case .document(let document):
                guard depth < options.maxDepth else { return }
                for (key, child) in document { visit(child, path.isEmpty ? key : path + "." + key, depth: depth + 1) }
            case .array(let elements):
                for element in elements { visit(element, path, depth: depth) }
            default:
                guard !path.isEmpty else { return }
                if tallies[path] == nil {
                    guard tallies.count < options.maxPathsPerCollection else { omitted.insert(path); return }
                    tallies[path] = PathTally()
                }
                tallies[path]!.values += 1
                if case .string(let text) = value, let kind = ValueKind.of(text) { tallies[path]!.kinds[kind, default: 0] += 1 }
                if path != "_id" || idsAreUsers, let text = Self.candidateText(value),
                   candidates.count < options.maxCandidates || candidates.contains(value) {
                    candidates.insert(value)
                    tallies[path]!.candidates[text, default: 0] += 1
                }
            }
        }
        for document in documents { visit(.document(document), "", depth: 0) }
        let known = try await knownUsers(among: Array(candidates))

        var paths: [CoverageReport.Path] = []
        for (path, tally) in tallies.sorted(by: { $0.key < $1.key }) {
            let userIds = tally.candidates.reduce(0) { $0 + (known.contains($1.key) ? $1.value : 0) }
            let line = CoverageReport.Path(
                path: path, values: tally.values, userIds: userIds, emails: tally.kinds[.email] ?? 0,
                phones: tally.kinds[.phone] ?? 0, ipAddresses: tally.kinds[.ipAddress] ?? 0,
                coveredBy: CoverageRules.covering(path, database: namespace.database, collection: namespace.collection, policies: policies))
            if !line.kinds.isEmpty { paths.append(line) }
        }
        let rules = policies.filter { $0.database == namespace.database }.flatMap(\.rules).filter { $0.collection == namespace.collection }
        var seen = Set<String>()
        return CoverageReport.Collection(database: namespace.database, collection: namespace.collection, sampled: documents.count,
                                         pathsSeen: tallies.count + omitted.count, pathsOmitted: omitted.count, hasRule: !rules.isEmpty,
                                         matchedOn: rules.flatMap(\.match).filter { seen.insert($0).inserted }, paths: paths)
    }

    /// A value that could be a user id: a string of at most 256 bytes that is none of
    /// Lethe's own tokens, an ObjectId, a UUID.
    static func candidateText(_ value: BSON) -> String? {
        if case .string(let text) = value, text.utf8.count > SubjectBinding.maximumLength || OrphanSweeper.isLetheValue(text) { return nil }
        return TombstoneKeyer.text(of: value)
    }

    /// The candidates (as text) found in a users collection of the policies, at `field`
    /// or `identities`, looked up `lookupChunk` at a time.
    func knownUsers(among candidates: [BSON]) async throws -> Set<String> {
        var sources: [(namespace: Namespace, paths: [String])] = []
        for policy in policies {
            guard let users = policy.users, let namespace = policy.usersNamespace else { continue }
            let paths = [users.field] + (users.identities.map { [$0] } ?? [])
            if !sources.contains(where: { $0.namespace == namespace && $0.paths == paths }) { sources.append((namespace, paths)) }
        }
        guard !sources.isEmpty, !candidates.isEmpty else { return [] }
        var known = Set<String>()
        for chunk in candidates.chunked(into: options.lookupChunk) {
            let forms = Array(Set(chunk.flatMap(OrphanSweeper.forms(of:))))
            for source in sources {
                let clauses: [BSON] = source.paths.flatMap { path in OrphanSweeper.byType(forms).map { ids -> BSON in [path: ["$in": .array(ids)]] } }
                var projection: BSONDocument = ["_id": 1]
                for path in source.paths { projection[String(path.prefix { $0 != "." })] = 1 }
                let found = IDCollector()
                let paths = source.paths
                try await data.forEachBatch(source.namespace, filter: ["$or": .array(clauses)], projection: projection,
                                            batchSize: options.lookupChunk) { documents in
                    found.add(documents.flatMap { document in paths.flatMap { document.values(atPath: $0) } })
                }
                known.formUnion(found.ids.compactMap(TombstoneKeyer.text(of:)))
            }
        }
        return known
    }
}
