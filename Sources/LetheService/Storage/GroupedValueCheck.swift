import BSON

/// Whether a `$group` key came back as the value its documents hold, judged by the
/// BSON types the server names for those documents (`$addToSet` of the aggregation
/// `$type` of the grouped field), and the values a query's equality sees in a key.
///
/// MongoDB groups by the stored value, so the key's type is the type of every value in
/// its group; values of different types share a group only where they compare equal:
/// numbers of any type, and null with a missing field ("missing" for `$type`). Anything
/// else, such as a string key for documents holding an ObjectId or an array (what the
/// test server's `$group` returns), is a key that is not the stored value.
enum GroupedValueCheck {
    static let numberTypes: Set<String> = ["int", "long", "double", "decimal"]

    static func isFaithful(_ key: BSON, types: [String]) -> Bool {
        guard !types.isEmpty else { return false }
        switch key {
        case .null: return types.allSatisfy { $0 == "null" || $0 == "missing" }
        case .int32, .int64, .double, .decimal128: return types.allSatisfy(numberTypes.contains)
        default: return types.allSatisfy { $0 == key.typeName }
        }
    }

    /// The values an equality query matches in a field holding `key`: the elements of
    /// an array (one level, as a query descends), the value itself otherwise, nothing
    /// for null.
    static func queryValues(of key: BSON) -> [BSON] {
        switch key {
        case .null: []
        case .array(let elements): elements.filter { if case .array = $0 { false } else { $0 != .null } }
        default: [key]
        }
    }
}
