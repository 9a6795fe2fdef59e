import BSON
import Foundation

/// Which request each document belongs to: the counts each request's receipt states,
/// and the owners of what verification finds left. A document counts once for every
/// request whose ids it holds.
extension Eraser {
    /// Counts, per request, the documents matching `filter` that hold one of its ids.
    /// One request alone is counted by the server; several are attributed from the
    /// match fields, grouped by the data store where it can (about one line per user)
    /// or read otherwise.
    func attribute(_ statement: RuleStatement, rule: PolicyRule, members: [BatchMember], filter: BSONDocument) async throws -> [String: RuleCount] {
        let retaining = rule.rule.action.isRetain
        let attributionFilter = retaining ? statement.matchFilter : filter
        if members.count == 1, statement.retainUntil == nil {
            let count = try await engine.retrying { try await engine.data.count(statement.namespace, filter: attributionFilter) }
            return [members[0].id: RuleCount(documents: count)]
        }
        let owners = Self.owners(members, rule: rule)
        let paths = rule.rule.match
        if paths.count == 1, statement.retainUntil == nil,
           let groups = try await engine.retrying({
               try await engine.data.groupCounts(statement.namespace, filter: attributionFilter, by: paths[0], batchSize: readBatch)
           }),
           let grouped = Self.attribute(groups: groups, owners: owners) {
            return grouped
        }
        let counter = AttributionCounter()
        let until = statement.retainUntil
        try await engine.retrying {
            counter.reset()
            try await engine.data.forEachBatch(statement.namespace, filter: attributionFilter, projection: Self.projection(paths + (until.map { [$0.field] } ?? [])),
                                              batchSize: readBatch) { documents in
                var local: [String: RuleCount] = [:]
                for document in documents { _ = Self.count(document, paths: paths, until: until, owners: owners, into: &local) }
                counter.merge(local)
            }
        }
        return counter.value
    }

    /// The owners of the leftovers `ids` of `statement`, per request. The documents are
    /// read and their match fields tested here, not asked of the server again; a
    /// leftover that holds no member's id (a form the attribution cannot see) counts
    /// for every member, so that none is verified while it is there.
    func leftovers(_ statement: RuleStatement, rule: PolicyRule, members: [BatchMember], ids: [BSON]) async throws -> [String: Int] {
        let owners = Self.owners(members, rule: rule)
        let paths = rule.rule.match
        var remaining: [String: Int] = [:]
        var unattributed = ids.count
        for chunk in ids.chunked(into: 1_000) {
            let documents = try await engine.retrying {
                try await engine.data.documents(statement.namespace, ids: chunk, projection: Self.projection(paths))
            }
            for document in documents {
                var local: [String: RuleCount] = [:]
                let (holders, _) = Self.count(document, paths: paths, until: nil, owners: owners, into: &local)
                guard !holders.isEmpty else { continue }
                unattributed -= 1
                for holder in holders { remaining[holder, default: 0] += 1 }
            }
        }
        if unattributed > 0 {
            for member in members { remaining[member.id, default: 0] += unattributed }
        }
        return remaining
    }

    /// Each id of the rule's policy, with the requests holding it.
    static func owners(_ members: [BatchMember], rule: PolicyRule) -> [BSON: [String]] {
        var owners: [BSON: [String]] = [:]
        for member in members { for id in member.ids(for: rule) { owners[id, default: []].append(member.id) } }
        return owners
    }

    /// Counts from the data store's groups; nil when a group names none of the ids it
    /// was filtered by (a server that groups arrays or nested paths otherwise than a
    /// query matches them), so that the documents are read instead.
    static func attribute(groups: [(key: BSON, documents: Int)], owners: [BSON: [String]]) -> [String: RuleCount]? {
        var counts: [String: RuleCount] = [:]
        for group in groups {
            var holders = Set<String>()
            for value in [group.key] + (group.key.arrayValue ?? []) { holders.formUnion(owners[value] ?? []) }
            if holders.isEmpty { return nil }
            for holder in holders { counts[holder, default: RuleCount()].documents += group.documents }
        }
        return counts
    }

    /// Counts `document` for each request holding one of its match values (once per
    /// request), with the date its `then` falls due; returns those requests and the date.
    static func count(_ document: BSONDocument, paths: [String], until: RetentionDeadline?, owners: [BSON: [String]],
                      key: String? = nil, into counts: inout [String: RuleCount]) -> (holders: Set<String>, due: Date?) {
        var holders = Set<String>()
        for path in paths {
            for value in document.values(atPath: path) { holders.formUnion(owners[value] ?? []) }
        }
        var due: Date?
        if let until, case .datetime(let date)? = document.value(atPath: until.field) {
            due = until.after.added(to: date.date)
        }
        let one = RuleCount(documents: 1, dueAt: due, keys: key.map { [$0] } ?? [])
        for holder in holders { counts[holder, default: RuleCount()].add(one) }
        return (holders, due)
    }

    /// `_id` and the top-level fields of `paths`: a whole sub-document reads the same
    /// on every server, where nested projections differ.
    static func projection(_ paths: [String]) -> BSONDocument {
        var projection: BSONDocument = ["_id": 1]
        for path in paths { projection[String(path.prefix { $0 != "." })] = 1 }
        return projection
    }

    /// Documents per read when streaming match fields.
    var readBatch: Int { max(engine.options.batchSize, 1_000) }
}

/// Per-request counts gathered from streamed batches.
final class AttributionCounter: @unchecked Sendable {
    // @unchecked: guarded by the lock.
    private let lock = NSLock()
    private var counts: [String: RuleCount] = [:]

    func reset() { lock.withLock { counts = [:] } }

    func merge(_ local: [String: RuleCount]) {
        lock.withLock {
            for (id, count) in local { counts[id, default: RuleCount()].add(count) }
        }
    }

    var value: [String: RuleCount] { lock.withLock { counts } }
}

extension BSONDocument {
    /// Every value at a dotted path, fanning out over arrays the way MongoDB matches
    /// them (`members` of `["a", "b"]` gives "a" and "b"; `tags.id` of an array of
    /// sub-documents gives each `id`).
    func values(atPath path: String) -> [BSON] {
        var current: [BSON] = [.document(self)]
        for component in path.split(separator: ".", omittingEmptySubsequences: false).map(String.init) {
            var next: [BSON] = []
            for value in current {
                switch value {
                case .document(let document):
                    if let child = document[component] { next.append(child) }
                case .array(let array):
                    for element in array {
                        if case .document(let document) = element, let child = document[component] { next.append(child) }
                    }
                default:
                    break
                }
            }
            current = next
        }
        return current.flatMap { value -> [BSON] in
            if case .array(let elements) = value { return [value] + elements }
            return [value]
        }
    }
}

extension Array {
    public func chunked(into size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: Swift.max(size, 1)).map { Array(self[$0..<Swift.min($0 + Swift.max(size, 1), count)]) }
    }
}
