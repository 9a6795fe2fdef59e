import BSON

extension BSONDocument {
    /// The values a query's equality on `path` matches in this document: the value,
    /// or each element of an array there, and the field of each element of an array
    /// of documents on the way (one level of array at each step, as MongoDB). Never
    /// an array itself, never null.
    public func equalityValues(atPath path: String) -> [BSON] {
        func walk(_ value: BSON, _ rest: ArraySlice<Substring>) -> [BSON] {
            guard let step = rest.first.map(String.init) else {
                if case .array(let elements) = value { return elements.filter { $0 != .null } }
                return value == .null ? [] : [value]
            }
            switch value {
            case .document(let inner):
                return inner[step].map { walk($0, rest.dropFirst()) } ?? []
            case .array(let elements):
                return elements.flatMap { element -> [BSON] in
                    guard case .document(let inner) = element, let next = inner[step] else { return [] }
                    return walk(next, rest.dropFirst())
                }
            default:
                return []
            }
        }
        return walk(.document(self), path.split(separator: ".", omittingEmptySubsequences: false)[...])
    }
}
