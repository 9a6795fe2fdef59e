/// The keys `BSONEncoder` and `BSONDecoder` make themselves, for coding paths: array
/// positions, and `super` for `superEncoder()` / `superDecoder()`. An enum, not a
/// struct with both values, so that a position's text is made only when an error shows
/// it, and the key fits in an existential without an allocation.
enum BSONCodingKey: CodingKey {
    case index(Int)
    case named(String)

    init(stringValue: String) { self = .named(stringValue) }

    init(intValue: Int) { self = .index(intValue) }

    /// As JSONEncoder and JSONDecoder write them, so that paths read the same.
    var stringValue: String {
        switch self {
        case .index(let index): "Index \(index)"
        case .named(let name): name
        }
    }

    var intValue: Int? { if case .index(let index) = self { index } else { nil } }

    static let `super` = BSONCodingKey.named("super")
}

/// An encoder or decoder for one level of a value, below the level of its `parent`
/// under `key`. Its coding path is made from that chain only when something asks for
/// it (an error, a hand-written `encode(to:)` or `init(from:)`), not for every value.
protocol BSONCodingLevel: AnyObject {
    var parent: Self? { get }
    var key: (any CodingKey)? { get }
}

extension BSONCodingLevel {
    var codingPath: [any CodingKey] {
        guard let parent, let key else { return [] }
        return parent.codingPath + [key]
    }
}
