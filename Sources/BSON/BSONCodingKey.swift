/// The keys `BSONEncoder` and `BSONDecoder` make themselves, for coding paths: array
/// positions, and `super` for `superEncoder()` / `superDecoder()`.
struct BSONCodingKey: CodingKey {
    let stringValue: String
    let intValue: Int?

    init(stringValue: String) {
        self.stringValue = stringValue
        intValue = nil
    }

    init(intValue: Int) {
        stringValue = "Index \(intValue)"
        self.intValue = intValue
    }

    /// As JSONEncoder and JSONDecoder name it, so that paths read the same.
    static let `super` = BSONCodingKey(stringValue: "super")
}
