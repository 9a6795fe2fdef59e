import BSON

/// A batch of keys (`_id`s, or dates) read in their order, cut into pieces a write can
/// select by range.
///
/// A range query on MongoDB is type-bracketed: `{$gte: 5, $lte: "k"}` matches nothing,
/// because `$gte: 5` takes only numbers and `$lte: "k"` only strings. A batch whose
/// ids change type part-way (numbers, then strings, then ObjectIds) is therefore one
/// range per run of one bracket. Ids of a type whose ordering servers do not share
/// (documents, binaries, booleans, ...) go as a list instead.
public enum IdRun: Sendable, Hashable {
    /// Every id of one comparison bracket from `first` to `last`, both included.
    case range(first: BSON, last: BSON)
    /// These ids exactly.
    case list([BSON])

    /// The condition on `path` (by default `_id`) that selects this run.
    public func condition(on path: String = "_id") -> BSONDocument {
        switch self {
        case .range(let first, let last):
            first == last ? [path: first] : [path: ["$gte": first, "$lte": last]]
        case .list(let ids):
            [path: ["$in": .array(ids)]]
        }
    }

    /// `ids` (in the order the server sorted them) as runs: one range per stretch of
    /// consecutive ids of one rangeable bracket, one list per BSON type of the rest.
    public static func split(_ ids: [BSON]) -> [IdRun] {
        var runs: [IdRun] = []
        var others: [UInt8: [BSON]] = [:]
        var current: (bracket: Int, first: BSON, last: BSON)?
        for id in ids {
            guard let bracket = rangeBracket(id) else {
                others[id.typeByte, default: []].append(id)
                continue
            }
            if let open = current, open.bracket == bracket {
                current?.last = id
            } else {
                if let open = current { runs.append(.range(first: open.first, last: open.last)) }
                current = (bracket, id, id)
            }
        }
        if let open = current { runs.append(.range(first: open.first, last: open.last)) }
        runs += others.sorted { $0.key < $1.key }.map { .list($0.value) }
        return runs
    }

    /// The comparison bracket of the `_id` types a range serves alike on every server:
    /// numbers (compared by value across int, long and double), strings, ObjectIds,
    /// dates. Nil for the rest.
    static func rangeBracket(_ id: BSON) -> Int? {
        switch id {
        case .double(let value) where value.isNaN: nil  // sorts before every number, matches no range
        case .int32, .int64, .double: 1
        case .string: 2
        case .objectId: 3
        case .datetime: 4
        default: nil
        }
    }
}
