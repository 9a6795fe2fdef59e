import BSON
import Foundation
import MongoKit

/// Stores Lethe's own `Codable` records (requests, receipts, holds) as BSON: through
/// JSON, with dates as BSON dates so that they sort and compare as dates on the server.
enum BSONCodable {
    static func encode<T: Encodable>(_ value: T) throws -> BSONDocument {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.container(keyedBy: ExtendedKey.self)
            var inner = container.nestedContainer(keyedBy: ExtendedKey.self, forKey: .date)
            try inner.encode(String(BSONDatetime(date).millisecondsSinceEpoch), forKey: .numberLong)
        }
        let json = String(decoding: try encoder.encode(value), as: UTF8.self)
        return try BSONDocument(extendedJSON: json)
    }

    static func decode<T: Decodable>(_ type: T.Type, from document: BSONDocument) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.container(keyedBy: ExtendedKey.self)
            let inner = try container.nestedContainer(keyedBy: ExtendedKey.self, forKey: .date)
            let text = try inner.decode(String.self, forKey: .numberLong)
            guard let ms = Int64(text) else {
                throw DecodingError.dataCorruptedError(forKey: .numberLong, in: inner, debugDescription: "not a date")
            }
            return BSONDatetime(millisecondsSinceEpoch: ms).date
        }
        let json = try JSONSerialization.data(withJSONObject: plainJSON(.document(document)))
        return try decoder.decode(T.self, from: json)
    }

    /// BSON as the plain JSON `JSONDecoder` reads: numbers as numbers, dates as
    /// `{"$date": {"$numberLong": ms}}`, ObjectIds as hex strings.
    static func plainJSON(_ value: BSON) -> Any {
        switch value {
        case .document(let document):
            var object: [String: Any] = [:]
            for (key, value) in document { object[key] = plainJSON(value) }
            return object
        case .array(let array): return array.map(plainJSON)
        case .string(let s), .symbol(let s), .javascript(let s): return s
        case .int32(let i): return Int(i)
        case .int64(let i): return Int(i)
        case .double(let d): return d
        case .bool(let b): return b
        case .datetime(let d): return ["$date": ["$numberLong": String(d.millisecondsSinceEpoch)]]
        case .objectId(let o): return o.hex
        case .decimal128(let d): return d.text
        case .binary(let b): return b.uuid?.uuidString ?? b.data.map { String(format: "%02x", $0) }.joined()
        case .null, .undefined, .minKey, .maxKey, .regex, .timestamp: return NSNull()
        }
    }

    private enum ExtendedKey: String, CodingKey {
        case date = "$date"
        case numberLong = "$numberLong"
    }
}
