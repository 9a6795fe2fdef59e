import BSON
import MongoKit

/// Stores Lethe's own `Codable` records (requests, receipts, holds) as BSON, straight
/// through `BSONEncoder` and `BSONDecoder`: dates as BSON dates, so that they sort and
/// compare as dates on the server.
enum BSONCodable {
    private static let encoder = BSONEncoder()

    private static let decoder: BSONDecoder = {
        var decoder = BSONDecoder()
        // A decimal128 read as a string: its text, through libbson.
        decoder.decimal128Text = { $0.text }
        return decoder
    }()

    static func encode<T: Encodable>(_ value: T) throws -> BSONDocument {
        try encoder.encode(value)
    }

    static func decode<T: Decodable>(_ type: T.Type, from document: BSONDocument) throws -> T {
        try decoder.decode(type, from: document)
    }
}
