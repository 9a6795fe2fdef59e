import BSON

/// An `anonymize` whose match path runs through an array of documents and whose changes
/// are inside that array's elements (`match: replies.user._id`, `set: {replies.user.name: …}`):
/// only the user's elements change, never the other people's.
///
/// Lethe does not know which part of the path is an array, so, as for `pull`, each way
/// the path can run through one (`replies` an array of documents with `user._id`) gets its
/// own write, filtered to documents where that part is an array: a `$set` of
/// `replies.$[e].user.name` with `arrayFilters: [{"e.user._id": {$in: ids}}]` (MongoDB's
/// filtered positional operator). Documents where no such part is an array get the plain
/// update. Only `set` and `unset`: `hash` and `pseudonymize` write per document.
public struct ElementAnonymization: Sendable, Hashable {
    /// One way the match path runs through an array: the array's path and the path of
    /// the id inside each element.
    public struct Split: Sendable, Hashable {
        public let array: String
        public let field: String
    }

    public let match: String
    public let splits: [Split]
    public let set: BSONDocument
    public let unset: [String]

    /// The identifier of the filtered positional operator (a lowercase letter, then
    /// letters and digits, as MongoDB requires).
    static let identifier = "lethe"

    /// Nil unless the rule has one match path, changes with `set`/`unset` only, and every
    /// changed path lies inside some array the match path could run through.
    init?(_ anonymization: Anonymization, match: [String]) {
        guard match.count == 1, anonymization.hash.isEmpty, anonymization.pseudonymize.isEmpty else { return nil }
        let changed = anonymization.set.keys + anonymization.unset
        guard !changed.isEmpty else { return nil }
        let components = match[0].split(separator: ".").map(String.init)
        var splits: [Split] = []
        for cut in 1..<max(components.count, 1) {
            let array = components[..<cut].joined(separator: ".")
            guard changed.allSatisfy({ $0.hasPrefix(array + ".") }) else { continue }
            splits.append(Split(array: array, field: components[cut...].joined(separator: ".")))
        }
        guard !splits.isEmpty else { return nil }
        self.match = match[0]
        self.splits = splits
        set = anonymization.set
        unset = anonymization.unset
    }

    /// The writes, element writes first, then the plain update of the other shape.
    func writes(ids: BSON, plainUpdate: BSONDocument) -> [(filter: BSONDocument, update: BSONDocument, arrayFilters: [BSONDocument])] {
        var writes: [(filter: BSONDocument, update: BSONDocument, arrayFilters: [BSONDocument])] = []
        let holds: BSONDocument = [match: ["$in": ids]]
        for split in splits {
            func inElement(_ path: String) -> String {
                split.array + ".$[\(Self.identifier)]." + path.dropFirst(split.array.count + 1)
            }
            var update = BSONDocument()
            if !set.isEmpty { update["$set"] = .document(BSONDocument(set.map { (inElement($0.key), $0.value) })) }
            if !unset.isEmpty { update["$unset"] = .document(BSONDocument(unset.map { (inElement($0), BSON.string("")) })) }
            let filter = RuleStatement.allOf([holds, [split.array: ["$type": "array"]]])
            writes.append((filter: filter, update: update, arrayFilters: [["\(Self.identifier).\(split.field)": ["$in": ids]]]))
        }
        let noArray: BSONDocument = ["$nor": .array(splits.map { .document([$0.array: ["$type": "array"]]) })]
        writes.append((filter: RuleStatement.allOf([holds, noArray]), update: plainUpdate, arrayFilters: []))
        return writes
    }

    /// Whether `document` still has something of the user's to change: an element of
    /// one of the arrays whose field holds one of `ids` without the rule's values (or, in
    /// a document where none of the arrays is one, the document itself). A document the
    /// store said holds an id, in which no part holding one is found here, counts as
    /// pending: what cannot be read is not called anonymized.
    func stillPending(_ document: BSONDocument, ids: Set<BSON>) -> Bool {
        var found = false
        var anyArray = false
        for split in splits {
            guard case .array(let elements)? = document.value(atPath: split.array) else { continue }
            anyArray = true
            for case .document(let element) in elements
            where element.values(atPath: split.field).contains(where: ids.contains) {
                found = true
                if !isAnonymized(element, prefix: split.array + ".") { return true }
            }
        }
        if !anyArray, document.values(atPath: match).contains(where: ids.contains) {
            found = true
            if !isAnonymized(document, prefix: "") { return true }
        }
        return !found
    }

    private func isAnonymized(_ document: BSONDocument, prefix: String) -> Bool {
        for (path, value) in set where document.value(atPath: String(path.dropFirst(prefix.count))) != value { return false }
        for path in unset where document.value(atPath: String(path.dropFirst(prefix.count))) != nil { return false }
        return true
    }
}
