/// An ordered BSON document. Field order is kept, as MongoDB commands require
/// (the command name must come first).
public struct BSONDocument: Sendable, Hashable {
    @usableFromInline var _keys: [String]
    @usableFromInline var _values: [BSON]

    public init() {
        _keys = []
        _values = []
    }

    public init<S: Sequence>(_ elements: S) where S.Element == (String, BSON) {
        _keys = []
        _values = []
        for (key, value) in elements { self[key] = value }
    }

    public var count: Int { _keys.count }
    public var isEmpty: Bool { _keys.isEmpty }
    public var keys: [String] { _keys }
    public var values: [BSON] { _values }

    /// The value of a top-level field; setting nil removes the field, setting an
    /// existing key replaces its value in place.
    public subscript(key: String) -> BSON? {
        get {
            guard let index = _keys.firstIndex(of: key) else { return nil }
            return _values[index]
        }
        set {
            if let index = _keys.firstIndex(of: key) {
                if let newValue {
                    _values[index] = newValue
                } else {
                    _keys.remove(at: index)
                    _values.remove(at: index)
                }
            } else if let newValue {
                _keys.append(key)
                _values.append(newValue)
            }
        }
    }

    /// Appends a field without checking for an existing key (faster when building).
    public mutating func append(_ key: String, _ value: BSON) {
        _keys.append(key)
        _values.append(value)
    }

    /// The value at a dotted path (`author.id`), descending into sub-documents and into
    /// arrays by numeric index. Does not fan out over array elements.
    public func value(atPath path: String) -> BSON? {
        var current: BSON = .document(self)
        for component in path.split(separator: ".", omittingEmptySubsequences: false) {
            switch current {
            case .document(let doc):
                guard let next = doc[String(component)] else { return nil }
                current = next
            case .array(let array):
                guard let index = Int(component), array.indices.contains(index) else { return nil }
                current = array[index]
            default:
                return nil
            }
        }
        return current
    }
}

extension BSONDocument: Sequence {
    public typealias Element = (key: String, value: BSON)

    public struct Iterator: IteratorProtocol {
        var index = 0
        let document: BSONDocument
        public mutating func next() -> (key: String, value: BSON)? {
            guard index < document._keys.count else { return nil }
            defer { index += 1 }
            return (document._keys[index], document._values[index])
        }
    }

    public func makeIterator() -> Iterator { Iterator(document: self) }
}

extension BSONDocument: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, BSON)...) {
        self.init(elements)
    }
}
