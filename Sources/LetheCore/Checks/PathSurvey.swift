import BSON

/// What a field path holds in a sample of documents, as MongoDB's query language reads
/// it (fanning out over arrays): scalars, arrays of values, elements of arrays of
/// documents, or sub-documents, and the BSON types of the values. Counts and type
/// names only, never a value: `validate --check-db` prints it.
public struct PathSurvey: Sendable, Hashable {
    public let path: String
    /// Documents examined.
    public var sampled = 0
    /// Documents that hold the path at all.
    public var holding = 0
    /// Documents where the path ends at a scalar value (not through an array).
    public var scalars = 0
    /// Documents where the path ends at an array of values (`tags: [a, b]`).
    public var arraysOfValues = 0
    /// Documents where the path runs through an array of documents
    /// (`replies: [{user: {_id: …}}]` for `replies.user._id`): a match selects elements.
    public var throughArraysOfDocuments = 0
    /// Documents where the path ends at a sub-document: an id never equals it.
    public var documents = 0
    /// Leaf values by BSON type name (`objectId`, `string`, ...), array elements one by one.
    public var valueTypes: [String: Int] = [:]
    /// Where the path stops in documents that lack it: the longest prefix that exists,
    /// and the type it holds there (`postId` → `objectId`), by count.
    public var blockedAt: [Blocked: Int] = [:]
    /// Keys seen at the level where the path's last step is missing (for did-you-mean).
    public var siblingKeys: Set<String> = []
    /// Keys of the sub-documents the path ends at (`owner` → `id`, `name`).
    public var documentKeys: Set<String> = []

    public struct Blocked: Sendable, Hashable {
        /// The prefix that exists (`postId`).
        public let prefix: String
        /// What it holds: a BSON type name (`objectId`) or `array` of non-documents.
        public let holds: String
    }

    public init(path: String) { self.path = path }

    /// Surveys `path` over `documents`.
    public init(path: String, documents: some Sequence<BSONDocument>) {
        self.init(path: path)
        let steps = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        for document in documents { add(document, steps: steps) }
    }

    mutating func add(_ document: BSONDocument, steps: [String]) {
        sampled += 1
        var seen = Seen()
        walk(.document(document), steps: steps[...], prefix: [], throughDocuments: false, into: &seen)
        guard seen.held else {
            if let blocked = seen.blocked { blockedAt[blocked, default: 0] += 1 }
            return
        }
        holding += 1
        if seen.throughDocuments { throughArraysOfDocuments += 1 }
        if seen.arrayOfValues { arraysOfValues += 1 }
        if seen.scalar { scalars += 1 }
        if seen.document { documents += 1 }
    }

    /// What one document showed.
    private struct Seen {
        var held = false
        var scalar = false
        var arrayOfValues = false
        var throughDocuments = false
        var document = false
        var blocked: Blocked?
    }

    private mutating func walk(_ value: BSON, steps: ArraySlice<String>, prefix: [String], throughDocuments: Bool, into seen: inout Seen) {
        guard let step = steps.first else {
            leaf(value, throughDocuments: throughDocuments, into: &seen)
            return
        }
        switch value {
        case .document(let document):
            guard let next = document[step] else {
                if steps.count == 1 { siblingKeys.formUnion(document.map(\.key).prefix(200)) }
                return
            }
            walk(next, steps: steps.dropFirst(), prefix: prefix + [step], throughDocuments: throughDocuments, into: &seen)
        case .array(let elements):
            let subDocuments = elements.filter { if case .document = $0 { true } else { false } }
            if subDocuments.isEmpty, !elements.isEmpty, seen.blocked == nil {
                seen.blocked = Blocked(prefix: prefix.joined(separator: "."), holds: "array")
            }
            for element in subDocuments {
                walk(element, steps: steps, prefix: prefix, throughDocuments: true, into: &seen)
            }
        default:
            if seen.blocked == nil, !prefix.isEmpty {
                seen.blocked = Blocked(prefix: prefix.joined(separator: "."), holds: value.typeName)
            }
        }
    }

    private mutating func leaf(_ value: BSON, throughDocuments: Bool, into seen: inout Seen) {
        seen.held = true
        if throughDocuments { seen.throughDocuments = true }
        switch value {
        case .array(let elements):
            seen.arrayOfValues = true
            for element in elements {
                if case .document(let document) = element {
                    seen.document = true
                    documentKeys.formUnion(document.map(\.key).prefix(50))
                }
                valueTypes[element.typeName, default: 0] += 1
            }
        case .document(let document):
            seen.document = true
            documentKeys.formUnion(document.map(\.key).prefix(50))
        default:
            if !throughDocuments { seen.scalar = true }
            valueTypes[value.typeName, default: 0] += 1
        }
    }

    /// What the path holds, as a sentence part: "scalars (objectId 990, string 10)",
    /// "arrays of values", "elements of arrays of documents".
    public var shapeDescription: String {
        var shapes: [String] = []
        if scalars > 0 { shapes.append("scalars in \(scalars)") }
        if arraysOfValues > 0 { shapes.append("arrays of values in \(arraysOfValues)") }
        if throughArraysOfDocuments > 0 { shapes.append("elements of arrays of documents in \(throughArraysOfDocuments)") }
        if documents > 0 { shapes.append("sub-documents in \(documents)") }
        let types = valueTypes.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.key) \($0.value)" }
        return shapes.joined(separator: ", ") + (types.isEmpty ? "" : "; values: " + types.joined(separator: ", "))
    }
}
