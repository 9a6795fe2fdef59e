import BSON
import Foundation

/// MongoDB's query and update semantics for the shapes Lethe's statements use, in
/// memory: implicit equality, `$in`, `$nin`, `$eq`, `$ne`, `$exists`, `$regex`, `$lt`,
/// `$lte`, `$gt`, `$gte`, `$elemMatch`, `$and`, `$or`, `$nor`; updates `$set`, `$unset`
/// and `$pull` (of `$in`). A path runs through arrays of documents, and an array field
/// matches when any element does, as on MongoDB. Anything else is a test failure
/// (`fatalError`), never a silent "no match".
public enum QueryMatcher {
    /// With `inMissesArrayElements`, `$in` matches scalars only (a server fault to
    /// imitate); everything else stays as MongoDB does it.
    public static func matches(_ document: BSONDocument, _ filter: BSONDocument, inMissesArrayElements: Bool = false) -> Bool {
        filter.allSatisfy { key, condition in
            let faulty = inMissesArrayElements
            switch key {
            case "$and": return (condition.arrayValue ?? []).allSatisfy { matches(document, $0.documentValue ?? [:], inMissesArrayElements: faulty) }
            case "$or": return (condition.arrayValue ?? []).contains { matches(document, $0.documentValue ?? [:], inMissesArrayElements: faulty) }
            case "$nor": return !(condition.arrayValue ?? []).contains { matches(document, $0.documentValue ?? [:], inMissesArrayElements: faulty) }
            default:
                let raw = rawValues(document, key)
                if faulty, case .document(let operators)? = Optional(condition), operators["$in"] != nil || operators["$elemMatch"] != nil {
                    return field(raw.filter { $0.arrayValue == nil }, satisfies: condition)
                }
                return field(raw, satisfies: condition)
            }
        }
    }

    /// The values at `path` as stored (an array stays one value), fanning out over
    /// arrays of documents on the way.
    public static func rawValues(_ document: BSONDocument, _ path: String) -> [BSON] {
        var current: [BSON] = [.document(document)]
        for component in path.split(separator: ".").map(String.init) {
            current = current.flatMap { value -> [BSON] in
                switch value {
                case .document(let inner): return inner[component].map { [$0] } ?? []
                case .array(let elements):
                    return elements.compactMap { $0.documentValue?[component] }
                default: return []
                }
            }
        }
        return current
    }

    /// The raw values and, for arrays, their elements: what equality compares with.
    static func flattened(_ raw: [BSON]) -> [BSON] {
        raw.flatMap { value -> [BSON] in
            if case .array(let elements) = value { return [value] + elements }
            return [value]
        }
    }

    static func field(_ raw: [BSON], satisfies condition: BSON) -> Bool {
        guard case .document(let operators) = condition, let first = operators.keys.first, first.hasPrefix("$") else {
            return equals(raw, condition)
        }
        return operators.allSatisfy { op, argument in apply(op, argument, raw) }
    }

    public static func equals(_ raw: [BSON], _ value: BSON) -> Bool {
        if value == .null, raw.isEmpty { return true }
        return flattened(raw).contains(value)
    }

    static func apply(_ op: String, _ argument: BSON, _ raw: [BSON]) -> Bool {
        let values = flattened(raw)
        switch op {
        case "$in": return (argument.arrayValue ?? []).contains { equals(raw, $0) }
        case "$nin": return !(argument.arrayValue ?? []).contains { equals(raw, $0) }
        case "$eq": return equals(raw, argument)
        case "$ne": return !equals(raw, argument)
        case "$exists": return !raw.isEmpty == (argument.boolValue ?? true)
        case "$type":
            guard argument.stringValue == "array" else { fatalError("QueryMatcher knows only $type: array") }
            return raw.contains { $0.arrayValue != nil }
        case "$regex":
            guard let pattern = argument.stringValue, let regex = try? NSRegularExpression(pattern: pattern) else { fatalError("bad $regex") }
            return values.contains { value in
                guard let text = value.stringValue else { return false }
                return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
            }
        case "$lt", "$lte", "$gt", "$gte":
            return values.contains { value in
                guard let order = compare(value, argument) else { return false }
                switch op {
                case "$lt": return order < 0
                case "$lte": return order <= 0
                case "$gt": return order > 0
                default: return order >= 0
                }
            }
        case "$elemMatch":
            return raw.contains { value in
                guard case .array(let elements) = value else { return false }
                return elements.contains { element in
                    if case .document(let inner) = element, let conditions = argument.documentValue,
                       !(conditions.keys.first?.hasPrefix("$") ?? false) {
                        return matches(inner, conditions)
                    }
                    return field([element], satisfies: argument)
                }
            }
        default:
            fatalError("QueryMatcher does not know \(op)")
        }
    }

    static func compare(_ a: BSON, _ b: BSON) -> Int? {
        func order<T: Comparable>(_ x: T, _ y: T) -> Int { x < y ? -1 : (x == y ? 0 : 1) }
        switch (a, b) {
        case (.datetime(let x), .datetime(let y)): return order(x.millisecondsSinceEpoch, y.millisecondsSinceEpoch)
        case (.string(let x), .string(let y)): return x == y ? 0 : (Array(x.utf8).lexicographicallyPrecedes(Array(y.utf8)) ? -1 : 1)
        case (.objectId(let x), .objectId(let y)): return order(x.hex, y.hex)
        case (.double(let x), _) where b.numberValue != nil: return order(x, b.numberValue!)
        case (_, .double(let y)) where a.numberValue != nil: return order(a.numberValue!, y)
        default:
            if let x = a.int64Value, let y = b.int64Value { return order(x, y) } else { return nil }
        }
    }

    /// MongoDB's sort order: by type bracket (numbers, strings, documents, arrays,
    /// binaries, ObjectIds, booleans, dates), then by value within a bracket.
    public static func sortsBefore(_ a: BSON, _ b: BSON) -> Bool {
        func bracket(_ value: BSON) -> Int {
            switch value {
            case .minKey: 0
            case .null, .undefined: 1
            case .int32, .int64, .double, .decimal128: 2
            case .string, .symbol: 3
            case .document: 4
            case .array: 5
            case .binary: 6
            case .objectId: 7
            case .bool: 8
            case .datetime: 9
            case .timestamp: 10
            case .regex: 11
            default: 12
            }
        }
        let (x, y) = (bracket(a), bracket(b))
        if x != y { return x < y }
        return (compare(a, b) ?? 0) < 0
    }

    // MARK: Updates

    /// MongoDB refuses a `$set`/`$unset` whose path runs through an array without a
    /// positional operator ("Cannot create field … in element"): so does this store.
    public struct TraversalError: Error, CustomStringConvertible {
        public let path: String
        public var description: String { "cannot use the part of '\(path)' that runs through an array to traverse it" }
    }

    public static func checkTraversal(_ update: BSONDocument, in document: BSONDocument) throws {
        for op in ["$set", "$unset"] {
            for (path, _) in update[op]?.documentValue ?? [:] {
                let components = path.split(separator: ".").map(String.init)
                var current: BSON = .document(document)
                for (index, component) in components.enumerated() {
                    if case .array = current {
                        if component.hasPrefix("$[") || Int(component) != nil { break }
                        throw TraversalError(path: path)
                    }
                    guard case .document(let inner) = current, let next = inner[component], index < components.count - 1 else { break }
                    current = next
                }
            }
        }
    }

    /// `document` with `update` applied; nil when nothing changed. A path segment `$[x]`
    /// is MongoDB's filtered positional operator: the elements of that array matching
    /// the `arrayFilters` document on `x.`.
    public static func apply(_ update: BSONDocument, to document: BSONDocument, arrayFilters: [BSONDocument] = []) -> BSONDocument? {
        var changed = document
        for (op, argument) in update {
            for (path, value) in argument.documentValue ?? [:] {
                switch op {
                case "$set": changed = setting(value, at: path.split(separator: ".").map(String.init), in: changed, arrayFilters: arrayFilters)
                case "$unset": changed = setting(nil, at: path.split(separator: ".").map(String.init), in: changed, arrayFilters: arrayFilters)
                case "$pull":
                    guard case .array(let elements)? = document.value(atPath: path), let condition = value.documentValue else { continue }
                    let kept: [BSON]
                    if let list = condition["$in"]?.arrayValue {
                        kept = elements.filter { !list.contains($0) }
                    } else {
                        // A condition on the elements, as if each were a document.
                        kept = elements.filter { element in !(element.documentValue.map { matches($0, condition) } ?? false) }
                    }
                    changed = setting(.array(kept), at: path.split(separator: ".").map(String.init), in: changed)
                default: fatalError("QueryMatcher does not update with \(op)")
                }
            }
        }
        return changed == document ? nil : changed
    }

    static func setting(_ value: BSON?, at path: [String], in document: BSONDocument, arrayFilters: [BSONDocument] = []) -> BSONDocument {
        var copy = document
        guard let head = path.first else { return copy }
        if path.count == 1 {
            copy[head] = value
            return copy
        }
        if path[1].hasPrefix("$["), path[1].hasSuffix("]"), case .array(let elements)? = copy[head] {
            let name = String(path[1].dropFirst(2).dropLast())
            let filter = arrayFilters.first { $0.keys.contains { $0.hasPrefix(name + ".") } } ?? [:]
            // The filter's paths without the identifier, asked of each element.
            let onElement = BSONDocument(filter.map { (String($0.key.dropFirst(name.count + 1)), $0.value) })
            copy[head] = .array(elements.map { element in
                guard case .document(let inner) = element, matches(inner, onElement) else { return element }
                return path.count == 2 ? (value ?? element) : .document(setting(value, at: Array(path.dropFirst(2)), in: inner, arrayFilters: arrayFilters))
            })
            return copy
        }
        let inner = copy[head]?.documentValue ?? [:]
        if value == nil, copy[head] == nil { return copy }
        copy[head] = .document(setting(value, at: Array(path.dropFirst()), in: inner, arrayFilters: arrayFilters))
        return copy
    }
}

extension BSON {
    /// Any number as a `Double`, for comparing across int and double.
    var numberValue: Double? {
        switch self {
        case .int32(let value): Double(value)
        case .int64(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }
}
