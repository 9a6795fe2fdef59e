import BSON

/// Whether a `$group` key came back as the value its documents hold, judged by the
/// group's own `$addToSet` of the grouped field (the distinct stored values, in the
/// same aggregation, so no write can come between), and the values a query's equality
/// sees in a key.
///
/// MongoDB groups by the stored value, so every value in a group equals its key and
/// `$addToSet` holds the key alone; values of different types share a group only where
/// they compare equal: numbers of any type, and null with a missing field (which
/// `$addToSet` leaves out). The test server groups by the value's JSON text: its keys
/// for ObjectIds, arrays, documents, dates and binaries are strings, while its
/// `$addToSet` of the field returns the stored values (an ObjectId, an array; probed
/// with nx-27017 0.8.1, docs/test-server.md). A key that is not the one value its
/// group holds is not trusted.
enum GroupedValueCheck {
    static func isFaithful(_ key: BSON, values: [BSON]) -> Bool {
        switch key {
        case .null: return values.allSatisfy { $0 == .null }
        case .int32, .int64, .double, .decimal128: return !values.isEmpty && values.allSatisfy(\.isNumber)
        default: return values.count == 1 && values[0] == key
        }
    }

    /// The values an equality query matches in a field holding `key`: the elements of
    /// an array (one level, as a query descends), the value itself otherwise, nothing
    /// for null; each once.
    static func queryValues(of key: BSON) -> [BSON] {
        switch key {
        case .null: return []
        case .array(let elements):
            var seen = Set<BSON>()
            return elements.filter { element in
                if case .array = element { return false }
                return element != .null && seen.insert(element).inserted
            }
        default: return [key]
        }
    }
}

private extension BSON {
    var isNumber: Bool {
        switch self {
        case .int32, .int64, .double, .decimal128: true
        default: false
        }
    }
}
