import BSON
import Foundation
import LetheCore
import LetheService
import LetheTestSupport
import MongoKit
import Testing

/// The data store asks the server once whether its `$in` matches inside arrays, and
/// verification skips its second, slower question only where it does.
@Suite("The server's $in probed once (integration)", .enabled(if: TestServer.isConfigured, TestServer.skipReason))
struct ArrayMatchProbeIntegrationTests {
    @Test("the probe runs when first asked, says what this server's $in does, leaves no probe document behind (a stale one included), and leftovers inside arrays are found either way")
    func probeAgreesWithTheServer() async throws {
        try await TestServer.withDatabase("probe") { database in
            let pool = try TestServer.pool()
            defer { Task { await pool.shutdown() } }
            // A probe interrupted two hours ago left its document.
            let stale = BSONDatetime(millisecondsSinceEpoch: BSONDatetime(Date()).millisecondsSinceEpoch - 7_200_000)
            try await database.collection("serverProbes").insertOne(["_id": "stale", "at": .datetime(stale)])
            let data = MongoDataStore(pool: pool, probingArraysIn: database.name)
            // Nothing is written until verification first asks.
            #expect(try await database.collection("serverProbes").find([:]).toArray().compactMap { $0["_id"] } == ["stale"])
            let inMatchesArrays = await data.inMatchesArrays()
            #expect(try await database.collection("serverProbes").countDocuments([:]) == 0)

            let (objectId, inDocument) = (BSONObjectId(), BSONObjectId())
            let notes = database.collection("notes")
            try await notes.insertMany([
                ["_id": 1, "tags": [.objectId(objectId), "other"]],
                ["_id": 2, "authors": [["id": .objectId(inDocument)], ["id": "plain-id"]]],
                ["_id": 3, "tags": ["unrelated"], "authors": [["id": "someone-else"]]],
            ])
            // What the server itself does with the probe's questions, asked directly.
            var direct = try await notes.findOne(["tags": ["$in": [.objectId(objectId)]]]) != nil
            direct = try await notes.findOne(["authors.id": ["$in": [.objectId(inDocument)]]]) != nil && direct
            direct = try await notes.findOne(["authors.id": ["$in": ["plain-id"]]]) != nil && direct
            #expect(inMatchesArrays == direct)
            KnownDeviation.inMissesValuesInsideArrays.expectOnMongoDB { #expect(inMatchesArrays) }

            let namespace = Namespace(database: database.name, collection: "notes")
            #expect(try await data.idsHolding(namespace, values: [.objectId(objectId)], atAnyOf: ["tags"], filter: [:], limit: 10) == [1])
            let throughDocuments = try await data.idsHolding(namespace, values: [.objectId(inDocument), "plain-id"], atAnyOf: ["authors.id"], filter: [:], limit: 10)
            #expect(throughDocuments == [2])
        }
    }

    @Test("a probe that cannot ask (no server) assumes $in misses, so verification asks more, never less; the operator is told once")
    func failedProbeIsUnfaithful() async throws {
        let pool = try MongoClientPool(uri: "mongodb://127.0.0.1:1/?directConnection=true&serverSelectionTimeoutMS=300&connectTimeoutMS=300",
                                       options: .init(maximumSize: 1))
        let log = RecordingLogHandler()
        let data = MongoDataStore(pool: pool, probingArraysIn: "lethe_probe_unreachable", logger: log.logger)
        let inMatchesArrays = await data.inMatchesArrays()
        let again = await data.inMatchesArrays()
        await pool.shutdown()
        #expect(!inMatchesArrays && !again)
        let lines = log.lines.withLockedValue { $0 }
        #expect(lines.count == 1, "said once: \(lines.map(\.message))")
        #expect(lines.first?.level == .warning)
        #expect(lines.first?.message.contains("lethe_probe_unreachable.serverProbes") == true)
    }
}
