import BSON
import Foundation

/// One rule of a policy, made concrete for one request: the filters and updates that
/// carry it out. The user's ids enter only as typed values inside `$in`, so an id can
/// never add an operator, and the filter is never wider than the rule's own `match`
/// (and `where`) written by the policy author.
public struct RuleStatement: Sendable {
    public enum Write: Sendable {
        /// `deleteMany(pending)`.
        case delete
        /// `updateMany(pending, update)`: set-based, no reads.
        case update(BSONDocument)
        /// One `updateMany` per array field: `$pull` of the ids from arrays only.
        case pull([(filter: BSONDocument, update: BSONDocument)])
        /// Stream `pending` (the hashed fields only) into bulk writes of per-document
        /// updates, because each hash depends on the document's own value.
        case hashEach(fields: [String], set: BSONDocument, unset: [String])
        /// Anonymize the user's elements of arrays of documents: per way the match path
        /// runs through an array, one `updateMany` with a filtered positional `$[e]` and
        /// `arrayFilters` selecting the elements holding the ids; then a plain update of
        /// the documents where no such path is an array (empty `arrayFilters`).
        case elements([(filter: BSONDocument, update: BSONDocument, arrayFilters: [BSONDocument])])
        /// Retain: nothing is written.
        case none
    }

    public let policyName: String
    public let rule: ErasureRule
    public let namespace: Namespace
    /// Every document of this user that the rule covers.
    public let matchFilter: BSONDocument
    /// The covered documents that still need the action: after the action, none match.
    /// Verification counts these; a rerun writes only these, so it changes nothing twice.
    public let pendingFilter: BSONDocument
    public let write: Write
    /// For retain with `until`: the date field and the period after it.
    public let retainUntil: RetentionDeadline?
    /// The ids the rule matches (empty for a retention rule).
    public let ids: [BSON]
    /// What `pendingFilter` asks beyond "a match field holds one of the ids": the
    /// rule's `where` and, for an anonymization, "not yet anonymized". Verification
    /// asks for the ids on its own terms (`DataStore.idsHolding`) together with this.
    public let pendingBeyondMatch: BSONDocument
    /// Set when the rule anonymizes elements of an array of documents (`.elements`):
    /// verification then tests each of the user's elements itself.
    public let elements: ElementAnonymization?

    public var actionName: String { rule.action.name }

    public init(policy: Policy, rule: ErasureRule, ids: [BSON], token: String?) {
        policyName = policy.name
        self.rule = rule
        namespace = Namespace(database: policy.database, collection: rule.collection)
        self.ids = ids
        let idList = BSON.array(ids)

        func scoped(_ filter: BSONDocument) -> BSONDocument {
            guard let scope = rule.scope, !scope.isEmpty else { return filter }
            return Self.allOf([filter, scope])
        }
        let clauses: [BSONDocument] = rule.match.map { [$0: ["$in": idList]] }
        let match = clauses.count == 1 ? clauses[0] : ["$or": .array(clauses.map { .document($0) })]
        matchFilter = scoped(match)

        let scope = rule.scope ?? [:]
        var elementRule: ElementAnonymization?
        switch rule.action {
        case .delete:
            pendingFilter = matchFilter
            pendingBeyondMatch = scope
            write = .delete
            retainUntil = nil
        case .pull:
            pendingFilter = matchFilter
            pendingBeyondMatch = scope
            // Only arrays: `$pull` on a scalar is an error on MongoDB. A scalar holding
            // the id stays matched, so verification reports it instead of hiding it.
            // `$elemMatch` says "an array holding one of the ids" in one operator, which
            // an index on the path serves (docs/test-server.md measures the alternative).
            write = .pull(rule.match.flatMap { path in Self.pulls(at: path, of: idList).map { (filter: scoped($0.filter), update: $0.update) } })
            retainUntil = nil
        case .retain(let retention):
            pendingFilter = matchFilter
            pendingBeyondMatch = scope
            write = .none
            retainUntil = retention.until
        case .anonymize(let anonymization) where ElementAnonymization(anonymization, match: rule.match) != nil:
            let element = ElementAnonymization(anonymization, match: rule.match)!
            // Which elements are the user's is a question about each element, which a
            // document-level "not yet anonymized" cannot ask (another person's element
            // may hold the new value already): every document holding an id is written
            // again (idempotent), and verification tests the elements.
            pendingFilter = matchFilter
            pendingBeyondMatch = scope
            elementRule = element
            write = .elements(element.writes(ids: idList, plainUpdate: Self.anonymizePlan(anonymization, token: token).update).map {
                (filter: scoped($0.filter), update: $0.update, arrayFilters: $0.arrayFilters)
            })
            retainUntil = nil
        case .anonymize(let anonymization):
            let plan = Self.anonymizePlan(anonymization, token: token)
            if Self.overwritesEveryMatch(anonymization, match: rule.match, set: plan.set, ids: Set(ids)) {
                // A document still holding one of the ids has not been anonymized: the
                // match alone says what is pending, which the match field's index serves,
                // where an `$or` of every field's state would be read document by document.
                pendingFilter = matchFilter
                pendingBeyondMatch = scope
            } else {
                let notYet: BSONDocument = ["$or": .array(plan.pending.map { .document($0) })]
                pendingFilter = Self.allOf([matchFilter, notYet])
                pendingBeyondMatch = scope.isEmpty ? notYet : Self.allOf([scope, notYet])
            }
            if anonymization.hash.isEmpty {
                write = .update(plan.update)
            } else {
                write = .hashEach(fields: anonymization.hash, set: plan.set, unset: anonymization.unset)
            }
            retainUntil = nil
        }
        elements = elementRule
    }

    /// A `retention` rule made concrete for a sweep: every document whose `field` is
    /// before `cutoff` (`olderThan` before the sweep's start) and
    /// matches the rule's `where`, whoever it belongs to. `rule` carries the retention
    /// rule's collection, action and `where`, with its date field as the single match path.
    public init(policy: Policy, retention: RetentionRule, cutoff: BSONDatetime) {
        policyName = policy.name
        rule = ErasureRule(
            index: retention.index, collection: retention.collection, match: [retention.field],
            scope: retention.scope, action: retention.action, description: retention.description, location: retention.location
        )
        namespace = Namespace(database: policy.database, collection: retention.collection)
        ids = []
        let old: BSONDocument = [retention.field: ["$lt": .datetime(cutoff)]]
        if let scope = retention.scope, !scope.isEmpty {
            matchFilter = Self.allOf([old, scope])
        } else {
            matchFilter = old
        }
        retainUntil = nil
        elements = nil
        switch retention.action {
        case .anonymize(let anonymization):
            let plan = Self.anonymizePlan(anonymization, token: nil)
            pendingFilter = Self.allOf([matchFilter, ["$or": .array(plan.pending.map { .document($0) })]])
            pendingBeyondMatch = pendingFilter
            write = anonymization.hash.isEmpty
                ? .update(plan.update)
                : .hashEach(fields: anonymization.hash, set: plan.set, unset: anonymization.unset)
        default:
            // The loader allows only delete and anonymize in `retention`.
            pendingFilter = matchFilter
            pendingBeyondMatch = matchFilter
            write = .delete
        }
    }

    /// The `$pull`s that take `ids` out of `path` whatever array it runs through: the
    /// path itself as an array of ids (`members`), and for each way to split it into an
    /// array of documents and a field of its elements (`participants` and `userId` for
    /// `participants.userId`), the elements whose field holds an id. Each filter matches
    /// only documents of its own shape, so each write changes only what it can.
    static func pulls(at path: String, of ids: BSON) -> [(filter: BSONDocument, update: BSONDocument)] {
        var pulls: [(filter: BSONDocument, update: BSONDocument)] = [
            (filter: [path: ["$elemMatch": ["$in": ids]]], update: ["$pull": [path: ["$in": ids]]]),
        ]
        let components = path.split(separator: ".").map(String.init)
        for split in stride(from: components.count - 1, to: 0, by: -1) {
            let array = components[..<split].joined(separator: ".")
            let field = components[split...].joined(separator: ".")
            let element: BSONDocument = [field: ["$in": ids]]
            pulls.append((filter: [array: ["$elemMatch": .document(element)]], update: ["$pull": [array: .document(element)]]))
        }
        return pulls
    }

    /// All of `parts`: their field conditions in one document (when no field repeats),
    /// their operators (`$or`, `$nor`...) under one `$and` beside them. It means the same
    /// as an `$and` of the parts, in the form every planner reads best: the fields at the
    /// top level, where an index on them applies directly. (docs/test-server.md says
    /// which servers need which of these two choices, and measures them.)
    public static func allOf(_ parts: [BSONDocument]) -> BSONDocument {
        var fields = BSONDocument()
        var operators: [BSON] = []
        for part in parts {
            var partOperators = BSONDocument()
            for (key, value) in part {
                if key.hasPrefix("$") {
                    partOperators.append(key, value)
                } else if fields[key] != nil {
                    return ["$and": .array(parts.map { .document($0) })]
                } else {
                    fields.append(key, value)
                }
            }
            if !partOperators.isEmpty { operators.append(.document(partOperators)) }
        }
        if !operators.isEmpty { fields.append("$and", .array(operators)) }
        return fields
    }

    /// Whether the anonymization replaces every match path with a value that is none of
    /// `ids` (a constant, the token) or removes it: then no anonymized document matches.
    /// Hashed paths don't count: a hash of an id is a value the filter cannot rule out.
    static func overwritesEveryMatch(_ anonymization: Anonymization, match: [String], set: BSONDocument, ids: Set<BSON>) -> Bool {
        match.allSatisfy { path in
            if anonymization.unset.contains(path) { return true }
            guard let value = set[path] else { return false }
            return !ids.contains(value)
        }
    }

    /// The `$set`/`$unset` of an anonymization, and the conditions under which a
    /// document still needs it (any field not yet in its anonymized state).
    static func anonymizePlan(_ anonymization: Anonymization, token: String?)
        -> (set: BSONDocument, update: BSONDocument, pending: [BSONDocument]) {
        var set = anonymization.set
        var pending: [BSONDocument] = []
        for (path, value) in anonymization.set { pending.append([path: ["$ne": value]]) }
        for path in anonymization.pseudonymize {
            // The loader refuses pseudonymize without a key, so a token is always here.
            let value = BSON.string(token ?? "")
            set[path] = value
            pending.append([path: ["$ne": value]])
        }
        for path in anonymization.unset { pending.append([path: ["$exists": true]]) }
        for path in anonymization.hash {
            // Present, not null, and not already a hash. `$nor` of one condition is
            // `$not` in MongoDB's documented semantics (docs/test-server.md: why `$nor`).
            pending.append(["$and": [
                [path: ["$exists": true, "$ne": .null]],
                ["$nor": [[path: ["$regex": .string("^" + Anonymizer.hashPrefix)]]]],
            ]])
        }
        var update = BSONDocument()
        if !set.isEmpty { update["$set"] = .document(set) }
        if !anonymization.unset.isEmpty {
            update["$unset"] = .document(BSONDocument(anonymization.unset.map { ($0, BSON.string("")) }))
        }
        return (set, update, pending)
    }

    /// The per-document update of a hashing rule: hashes of the values present, plus
    /// the rule's other changes. Nil when the document needs nothing.
    static func hashUpdate(for document: BSONDocument, fields: [String], set: BSONDocument, unset: [String], anonymizer: Anonymizer) -> BSONDocument? {
        var setFields = set
        for path in fields {
            guard let value = document.value(atPath: path) else { continue }
            let hashed = anonymizer.hash(value)
            if hashed != value { setFields[path] = hashed }
        }
        var update = BSONDocument()
        if !setFields.isEmpty { update["$set"] = .document(setFields) }
        if !unset.isEmpty { update["$unset"] = .document(BSONDocument(unset.map { ($0, BSON.string("")) })) }
        return update.isEmpty ? nil : update
    }
}
