import BSON
import Foundation

/// Reads the values of the policies' lookups for many subjects at once: per lookup,
/// one read of its collection for all of them (`$in` of every subject's values, in
/// chunks of `valuesPerRead`), each document attributed back to the subjects whose
/// values it holds. Lookups run in the order the loader put them in, so a lookup that
/// uses another sees its values.
struct LookupResolver: Sendable {
    let engine: ErasureEngine
    /// Most values in one read's `$in`: a read stays well under MongoDB's 16 MiB
    /// command limit however many subjects a batch holds.
    static let valuesPerRead = 10_000

    /// A lookup that found more values than its policy's `maxLookupValues`.
    struct OverBound: Sendable, Hashable {
        let policy: String
        let lookup: String
        let limit: Int
    }

    struct Outcome: Sendable {
        /// Per subject (by position), the lookups it resolved here, by policy and name.
        var resolved: [Int: [StoredLookupValues]] = [:]
        /// Per subject (by position), the first lookup over its bound.
        var overBound: [Int: OverBound] = [:]
    }

    /// Resolves every lookup that `sources` (per subject, per policy) does not hold
    /// yet, adding its values there.
    func resolve(_ sources: inout [[[String: [BSON]]]]) async throws -> Outcome {
        var outcome = Outcome()
        for (policyIndex, policy) in engine.policies.enumerated() where !policy.lookups.isEmpty {
            for lookup in policy.lookups {
                let needing = sources.indices.filter { sources[$0][policyIndex][lookup.name] == nil }
                guard !needing.isEmpty else { continue }
                var owners: [BSON: [Int]] = [:]
                var order: [BSON] = []
                for subject in needing {
                    for value in MatchSource.values(of: lookup.using, in: sources[subject][policyIndex]) {
                        if owners[value] == nil { order.append(value) }
                        owners[value, default: []].append(subject)
                    }
                }
                let limit = policy.effectiveMaxLookupValues
                let found = try await read(lookup, of: policy, values: order, owners: owners, keepingAtMost: limit + 1)
                for subject in needing {
                    let values = found[subject] ?? []
                    sources[subject][policyIndex][lookup.name] = values
                    outcome.resolved[subject, default: []].append(StoredLookupValues(policy: policy.name, lookup: lookup.name, values: values))
                    if values.count > limit, outcome.overBound[subject] == nil {
                        outcome.overBound[subject] = OverBound(policy: policy.name, lookup: lookup.name, limit: limit)
                    }
                }
            }
        }
        return outcome
    }

    /// The values of `lookup.field` in the documents whose match paths hold `values`,
    /// per subject, each value once, at most `keepingAtMost` per subject.
    private func read(_ lookup: LookupSpec, of policy: Policy, values: [BSON], owners: [BSON: [Int]],
                      keepingAtMost bound: Int) async throws -> [Int: [BSON]] {
        let namespace = Namespace(database: policy.database, collection: lookup.collection)
        let projection = Eraser.projection(lookup.match + [lookup.field])
        var found = LookupCollector.Values()
        for chunk in values.chunked(into: Self.valuesPerRead) {
            let filter = Self.filter(lookup, values: chunk)
            let collector = LookupCollector(start: found, bound: bound)
            try await engine.retrying {
                collector.reset()
                try await engine.data.forEachBatch(namespace, filter: filter, projection: projection,
                                                   batchSize: max(engine.options.batchSize, 1_000)) { documents in
                    collector.add(documents, match: lookup.match, field: lookup.field, owners: owners)
                }
            }
            found = collector.values
        }
        return found.bySubject
    }

    /// The documents one of whose match paths holds one of `values`, within `where`.
    static func filter(_ lookup: LookupSpec, values: [BSON]) -> BSONDocument {
        let list = BSON.array(values)
        let clauses: [BSONDocument] = lookup.match.map { [$0: ["$in": list]] }
        let match = clauses.count == 1 ? clauses[0] : ["$or": .array(clauses.map { .document($0) })]
        guard let scope = lookup.scope, !scope.isEmpty else { return match }
        return RuleStatement.allOf([match, scope])
    }
}

/// Values found by a lookup's streamed read, per subject.
final class LookupCollector: @unchecked Sendable {
    // @unchecked: guarded by the lock.
    struct Values: Sendable {
        var bySubject: [Int: [BSON]] = [:]
        var seen: [Int: Set<BSON>] = [:]
    }

    private let lock = NSLock()
    private let start: Values
    private let bound: Int
    private var current: Values

    init(start: Values, bound: Int) {
        self.start = start
        self.bound = bound
        current = start
    }

    /// Back to what earlier chunks found (a retried read starts again).
    func reset() { lock.withLock { current = start } }

    func add(_ documents: [BSONDocument], match: [String], field: String, owners: [BSON: [Int]]) {
        lock.withLock {
            for document in documents {
                var holders = Set<Int>()
                for path in match { for value in document.values(atPath: path) { holders.formUnion(owners[value] ?? []) } }
                guard !holders.isEmpty else { continue }
                let values = document.lookupValues(atPath: field)
                for holder in holders {
                    for value in values where (current.bySubject[holder]?.count ?? 0) < bound {
                        if current.seen[holder, default: []].insert(value).inserted { current.bySubject[holder, default: []].append(value) }
                    }
                }
            }
        }
    }

    var values: Values { lock.withLock { current } }
}

extension BSONDocument {
    /// The values a lookup reads at `path`: each element of an array (one value each),
    /// of the types a link holds: strings, ObjectIds, numbers, binaries (UUIDs), dates.
    /// Anything else gives nothing: the data a lookup reads is written by the app's
    /// users, and a stored regular expression inside a rule's `$in` matches by pattern
    /// (`/.*/` would select every document), a sub-document such as `{$ne: null}` turns
    /// into an operator wherever a value is asked by equality. Null and missing give
    /// nothing either.
    func lookupValues(atPath path: String) -> [BSON] {
        values(atPath: path).filter(\.isLinkValue)
    }
}

extension BSON {
    /// Whether a lookup may yield this value (`BSONDocument.lookupValues(atPath:)`).
    var isLinkValue: Bool {
        switch self {
        case .string, .objectId, .int32, .int64, .double, .decimal128, .binary, .datetime: true
        default: false
        }
    }
}

extension MatchSource {
    /// The union, in order and each once, of the values `names` stand for in `sources`.
    static func values(of names: [String], in sources: [String: [BSON]]) -> [BSON] {
        if names.count == 1 { return sources[names[0]] ?? [] }
        var seen = Set<BSON>()
        return names.flatMap { sources[$0] ?? [] }.filter { seen.insert($0).inserted }
    }
}
