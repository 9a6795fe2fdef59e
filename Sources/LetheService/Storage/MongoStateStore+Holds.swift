import BSON
import Foundation
import LetheCore
import MongoKit

/// Legal holds (`HoldStore`).
extension MongoStateStore {
    public func holds(among pseudonyms: [String]) async throws -> [String: String] {
        guard !pseudonyms.isEmpty else { return [:] }
        let found = try await holds.find(
            ["subjectPseudonym": ["$in": .array(pseudonyms.map { .string($0) })]],
            options: FindOptions(projection: ["subjectPseudonym": 1], sort: ["createdAt": 1])
        ).toArray()
        var holds: [String: String] = [:]
        for hold in found {
            guard let pseudonym = hold["subjectPseudonym"]?.stringValue, let id = hold["_id"]?.stringValue else { continue }
            if holds[pseudonym] == nil { holds[pseudonym] = id }
        }
        return holds
    }

    public func addHold(_ hold: LegalHold) async throws {
        var document: BSONDocument = ["_id": .string(hold.id)]
        for (key, value) in try BSONCodable.encode(hold) { document.append(key, value) }
        try await holds.insertOne(document)
    }

    public func holds() async throws -> [LegalHold] {
        try await holds.find([:], options: FindOptions(sort: ["createdAt": 1])).toArray()
            .map { try BSONCodable.decode(LegalHold.self, from: $0) }
    }

    public func removeHold(id: String) async throws -> Bool {
        try await holds.deleteOne(["_id": .string(id)]).deletedCount == 1
    }
}
