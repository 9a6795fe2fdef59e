import BSON
import Foundation
import LetheTestSupport
import MongoKit
import Testing

@Suite("MongoDB operations (integration)", .enabled(if: TestServer.isConfigured, TestServer.skipReason))
struct OperationsIntegrationTests {
    @Test("ping and hello answer")
    func pingHello() async throws {
        let pool = try TestServer.pool()
        try await pool.ping()
        let hello = try await pool.hello()
        #expect(hello["ok"]?.int64Value == 1 || hello["ok"] == .double(1))
        #expect(hello["maxWireVersion"]?.int64Value ?? 0 >= 6)
        await pool.shutdown()
    }

    @Test("a handle comparing bytes inserts the document alone: the insert command carries no collation")
    func insertThroughCollatedHandle() async throws {
        try await TestServer.withDatabase { db in
            let collection = db.collection("notes").comparingBytes()
            try await collection.insertOne(["_id": "one", "owner": "abc"])
            try await collection.insertMany([["_id": "two", "owner": "abd"]])
            let stored = try await db.collection("notes").find([:], options: FindOptions(sort: ["_id": 1])).toArray()
            #expect(stored == [["_id": "one", "owner": "abc"], ["_id": "two", "owner": "abd"]])
        }
    }

    @Test("insertOne returns the generated _id, findOne reads it back with every type")
    func insertAndFindEveryType() async throws {
        try await TestServer.withDatabase { db in
            let collection = db.collection("types")
            var document = everyType
            if KnownDeviation.cannotStoreSomeTypes.applies {
                for key in ["decimal128", "regex", "timestamp", "minKey", "maxKey"] { document[key] = nil }
            }
            let result = try await collection.insertOne(document)
            let found = try #require(try await collection.findOne(["_id": result.insertedId]))
            #expect(found["_id"] == result.insertedId)
            for key in document.keys {
                if key == "uuid", KnownDeviation.uuidSubtypeReadsBackAsGeneric.applies {
                    #expect(found[key].flatMap { if case .binary(let b) = $0 { b.data } else { nil } } == BSONBinary(uuid: UUID(uuidString: "6F9619FF-8B86-D011-B42D-00CF4FC964FF")!).data)
                    continue
                }
                if key == "int64Small", KnownDeviation.smallInt64ReadsBackAsInt32.applies {
                    #expect(found[key]?.int64Value == 7)
                    continue
                }
                #expect(found[key] == document[key], "field \(key)")
            }
        }
    }

    @Test("insertMany, then find with projection, sort, limit, skip and a cursor over several batches")
    func findOptionsAndCursor() async throws {
        try await TestServer.withDatabase { db in
            let collection = db.collection("items")
            let docs: [BSONDocument] = (0..<250).map { ["n": .int32(Int32($0)), "owner": .string($0 % 2 == 0 ? "even" : "odd"), "secret": "x"] }
            let inserted = try await collection.insertMany(docs)
            #expect(inserted.insertedCount == 250)
            #expect(Set(inserted.insertedIds).count == 250)

            let before = pool(db).monitor.snapshot()
            var seen: [Int] = []
            let cursor = try await collection.find(
                ["owner": "even"],
                options: FindOptions(projection: ["n": 1, "_id": 0], sort: ["n": -1], batchSize: 20)
            )
            for try await doc in cursor {
                #expect(doc["secret"] == nil)
                #expect(doc["_id"] == nil)
                seen.append(try #require(doc["n"]?.intValue))
            }
            #expect(seen == Array(stride(from: 248, through: 0, by: -2)))
            let spent = pool(db).monitor.snapshot().subtracting(before)
            #expect(spent.started("find") == 1)
            #expect(spent.started("getMore") >= 5, "125 documents in batches of 20 need getMore")

            let page = try await collection.find([:], options: FindOptions(sort: ["n": 1], limit: 3, skip: 10)).toArray()
            #expect(page.compactMap { $0["n"]?.intValue } == [10, 11, 12])

            // Batch by batch: every document once, no batch above the batch size.
            var sizes: [Int] = []
            var all: [Int] = []
            try await collection.find(["owner": "odd"], options: FindOptions(sort: ["n": 1], batchSize: 40)).forEachBatch { batch in
                sizes.append(batch.count)
                all += batch.compactMap { $0["n"]?.intValue }
            }
            #expect(all == Array(stride(from: 1, through: 249, by: 2)))
            #expect(sizes.allSatisfy { $0 <= 40 } && sizes.count >= 4, "\(sizes)")
        }
    }

    @Test("a cursor abandoned early returns its client to the pool")
    func abandonedCursor() async throws {
        try await TestServer.withDatabase(maximumSize: 1) { db in
            let collection = db.collection("c")
            try await collection.insertMany((0..<50).map { ["i": .int32(Int32($0))] })
            for _ in 0..<3 {
                let cursor = try await collection.find([:], options: FindOptions(batchSize: 5))
                for try await _ in cursor { break }
            }
            // With one client, this only completes if the abandoned cursors gave theirs back.
            #expect(try await collection.countDocuments() == 50)
        }
    }

    @Test("countDocuments with a filter, limit and skip")
    func count() async throws {
        try await TestServer.withDatabase { db in
            let collection = db.collection("c")
            try await collection.insertMany((0..<10).map { ["i": .int32(Int32($0)), "even": .bool($0 % 2 == 0)] })
            #expect(try await collection.countDocuments() == 10)
            #expect(try await collection.countDocuments(["even": true]) == 5)
            #expect(try await collection.countDocuments(["even": true], options: CountOptions(limit: 2)) == 2)
            #expect(try await collection.countDocuments(["i": ["$gte": 3]], options: CountOptions(skip: 5)) == 2)
        }
    }

    @Test("deleteOne and deleteMany report counts and touch nothing else")
    func deletes() async throws {
        try await TestServer.withDatabase { db in
            let collection = db.collection("c")
            try await collection.insertMany((0..<6).map { ["owner": .string($0 < 4 ? "a" : "b")] })
            #expect(try await collection.deleteOne(["owner": "a"]).deletedCount == 1)
            #expect(try await collection.deleteMany(["owner": ["$in": ["a", "nobody"]]]).deletedCount == 3)
            #expect(try await collection.deleteMany(["owner": "a"]).deletedCount == 0)
            #expect(try await collection.countDocuments(["owner": "b"]) == 2)
        }
    }

    @Test("$push and $set by position on an array of documents keep documents; $set of a keyed field adds one")
    func arraysOfDocuments() async throws {
        try await TestServer.withDatabase { db in
            let collection = db.collection("c")
            let first: BSON = ["rule": 0, "counts": [["n": 1]]]
            let second: BSON = ["rule": 1, "counts": [["n": 2]]]
            try await collection.insertMany([["_id": 1, "list": [first]], ["_id": 2, "list": [first]], ["_id": 3, "keyed": ["0": first]]])
            #expect(try await collection.updateOne(["_id": 1], ["$push": ["list": second]]).matchedCount == 1)
            #expect(try await collection.updateOne(["_id": 2], ["$set": ["list.0": second]]).matchedCount == 1)
            #expect(try await collection.updateOne(["_id": 3], ["$set": ["keyed.1": second]]).modifiedCount == 1)
            let pushed = try await collection.findOne(["_id": 1])?["list"]
            KnownDeviation.pushStringifiesDocuments.expectOnMongoDB { #expect(pushed == [first, second]) }
            let setByPosition = try await collection.findOne(["_id": 2])?["list"]
            KnownDeviation.setArrayPositionIgnored.expectOnMongoDB { #expect(setByPosition == [second]) }
            #expect(try await collection.findOne(["_id": 3])?["keyed"] == ["0": first, "1": second])
        }
    }

    @Test("updateOne/updateMany with $set, $unset, $pull, $inc, and $setOnInsert upsert")
    func updates() async throws {
        try await TestServer.withDatabase { db in
            let collection = db.collection("c")
            try await collection.insertMany([
                ["_id": 1, "author": ["id": "u1", "email": "a@x"], "members": ["u1", "u2"], "n": 1],
                ["_id": 2, "author": ["id": "u1", "email": "b@x"], "members": ["u2"], "n": 1],
                ["_id": 3, "author": ["id": "u2", "email": "c@x"], "members": ["u1"], "n": 1],
            ])
            let many = try await collection.updateMany(
                ["author.id": "u1"], ["$set": ["author.name": "Deleted user"], "$unset": ["author.email": ""]]
            )
            #expect(many.matchedCount == 2)
            #expect(many.modifiedCount == 2)
            let pulled = try await collection.updateMany(["members": "u1"], ["$pull": ["members": ["$in": ["u1"]]]])
            #expect(pulled.modifiedCount == 2)
            let incremented = try await collection.updateOne(["_id": 3], ["$inc": ["n": 5]])
            #expect(incremented.modifiedCount == 1)
            let upsert = try await collection.updateOne(
                ["_id": 4], ["$setOnInsert": ["created": true], "$set": ["n": 0]], options: UpdateOptions(upsert: true)
            )
            #expect(upsert.upsertedCount == 1)
            #expect(upsert.upsertedId == 4)

            let one = try #require(try await collection.findOne(["_id": 1]))
            #expect(one.value(atPath: "author.name") == "Deleted user")
            #expect(one.value(atPath: "author.email") == nil)
            #expect(one["members"] == ["u2"])
            let three = try #require(try await collection.findOne(["_id": 3]))
            #expect(three["n"]?.intValue == 6)
            #expect(three["members"] == [])
            #expect(three.value(atPath: "author.email") == "c@x")
            #expect(try await collection.findOne(["_id": 4])?["created"] == true)
        }
    }

    @Test("ordered bulk write stops at a duplicate key; unordered goes on; errors carry indexes, not values")
    func bulkWrites() async throws {
        try await TestServer.withDatabase { db in
            let collection = db.collection("c")
            try await collection.createIndex(["email": 1], options: IndexOptions(unique: true))
            let mixed = try await collection.bulkWrite([
                .insertOne(["_id": 1, "email": "a@x"]),
                .insertOne(["_id": 2, "email": "b@x"]),
                .updateOne(filter: ["_id": 1], update: ["$set": ["v": 1]]),
                .updateMany(filter: [:], update: ["$set": ["w": 1]]),
                .replaceOne(filter: ["_id": 9], replacement: ["email": "z@x"], upsert: true),
                .deleteOne(filter: ["_id": 2]),
            ])
            #expect(mixed.insertedCount == 2)
            #expect(mixed.modifiedCount == 3)
            #expect(mixed.upsertedCount == 1)
            KnownDeviation.replaceUpsertIgnoresFilterID.expectOnMongoDB { #expect(mixed.upsertedIds[4] == 9) }
            #expect(mixed.upsertedIds.keys.sorted() == [4])
            #expect(mixed.deletedCount == 1)

            let ordered = try await #require(throws: MongoError.self) {
                try await collection.bulkWrite([
                    .insertOne(["_id": 10, "email": "dup@x"]),
                    .insertOne(["_id": 11, "email": "dup@x"]),
                    .insertOne(["_id": 12, "email": "fine@x"]),
                ], ordered: true)
            }
            #expect(ordered.code == .duplicateKey)
            #expect(ordered.writeErrors.map(\.index) == [1])
            #expect(!ordered.description.contains("dup@x"))
            #expect(try await collection.countDocuments(["_id": 12]) == 0)

            let unordered = try await #require(throws: MongoError.self) {
                try await collection.bulkWrite([
                    .insertOne(["_id": 20, "email": "dup@x"]),
                    .insertOne(["_id": 21, "email": "ok2@x"]),
                ], ordered: false)
            }
            #expect(unordered.writeErrors.map(\.index) == [0])
            #expect(try await collection.countDocuments(["_id": 21]) == 1)
            #expect(try await collection.bulkWrite([]).insertedCount == 0)
        }
    }

    @Test("insertOne on a unique index reports duplicateKey with the codes, not the value")
    func duplicateKeyError() async throws {
        try await TestServer.withDatabase { db in
            let collection = db.collection("users")
            try await collection.createIndex(["email": 1], options: IndexOptions(unique: true))
            try await collection.insertOne(["email": "alice@example.com"])
            let error = try await #require(throws: MongoError.self) { try await collection.insertOne(["email": "alice@example.com"]) }
            #expect(error.code == .duplicateKey)
            #expect(error.serverCode == 11000)
            #expect(error.namespace == collection.namespace)
            #expect(!error.isRetriable)
            #expect(!error.description.contains("alice"))
        }
    }

    @Test("findOneAndUpdate returns the document before or after, honours sort, upserts")
    func findOneAndUpdate() async throws {
        try await TestServer.withDatabase { db in
            let collection = db.collection("queue")
            try await collection.insertMany([["_id": 1, "p": 5, "state": "pending"], ["_id": 2, "p": 1, "state": "pending"]])
            let claimed = try await collection.findOneAndUpdate(
                ["state": "pending"], ["$set": ["state": "claimed"]],
                options: FindOneAndUpdateOptions(sort: ["p": 1], returnDocument: .after)
            )
            #expect(claimed?["_id"] == 2)
            #expect(claimed?["state"] == "claimed")
            let before = try await collection.findOneAndUpdate(["_id": 1], ["$inc": ["p": 1]])
            #expect(before?["p"]?.intValue == 5)
            let none = try await collection.findOneAndUpdate(["_id": 99], ["$set": ["x": 1]])
            #expect(none == nil)
            let upserted = try await collection.findOneAndUpdate(
                ["_id": 3], ["$setOnInsert": ["state": "new"]],
                options: FindOneAndUpdateOptions(upsert: true, returnDocument: .after)
            )
            #expect(upserted?["_id"] == 3)
            KnownDeviation.findAndModifyUpsertIgnoresSetOnInsert.expectOnMongoDB { #expect(upserted?["state"] == "new") }
        }
    }

    @Test("aggregate groups on the server")
    func aggregate() async throws {
        try await TestServer.withDatabase { db in
            let collection = db.collection("c")
            try await collection.insertMany((0..<9).map { ["k": .string($0 % 3 == 0 ? "a" : "b"), "v": .int32(1)] })
            let groups = try await collection.aggregate([
                ["$group": ["_id": "$k", "total": ["$sum": "$v"]]],
                ["$sort": ["_id": 1]],
            ]).toArray()
            #expect(groups.map { $0["_id"] } == ["a", "b"])
            #expect(groups.map { $0["total"]?.intValue } == [3, 6])
        }
    }

    @Test("createIndex, listIndexes, listCollections, drop")
    func administration() async throws {
        try await TestServer.withDatabase { db in
            let collection = db.collection("indexed")
            try await collection.insertOne(["owner_id": "u"])
            let name = try await collection.createIndex(["owner_id": 1])
            #expect(name == "owner_id_1")
            let indexes = try await collection.listIndexes()
            #expect(indexes.contains { $0["key"]?.documentValue?["owner_id"] != nil })
            // Several in one command, one of them unique and sparse; again, nothing changes.
            for _ in 0..<2 {
                let names = try await collection.createIndexes([IndexModel(["a": 1, "b": -1]), IndexModel(["key": 1], options: IndexOptions(unique: true, sparse: true))])
                #expect(names == ["a_1_b_-1", "key_1"])
            }
            let all = try await collection.listIndexes()
            let keys = all.compactMap { $0["key"]?.documentValue.map { Array($0.keys) } }
            #expect(keys.contains(["a", "b"]) && keys.contains(["key"]))
            try await collection.insertOne(["key": "k"])
            await #expect(throws: MongoError.self) { try await collection.insertOne(["key": "k"]) }
            try await db.collection("other").insertOne(["a": 1])
            #expect(Set(try await db.listCollectionNames()).isSuperset(of: ["indexed", "other"]))
            try await collection.drop()
            try await collection.drop()  // dropping again is not an error
            #expect(!(try await db.listCollectionNames()).contains("indexed"))
            let neverIndexes = try await db.collection("never").listIndexes()
            KnownDeviation.listIndexesOfMissingCollection.expectOnMongoDB { #expect(neverIndexes.isEmpty) }
        }
    }

    @Test("runCommand returns the reply and throws on ok: 0 with the server code")
    func runCommand() async throws {
        try await TestServer.withDatabase { db in
            try await db.collection("c").insertOne(["a": 1])
            let reply = try await db.runCommand(["count": "c"])
            #expect(reply["n"]?.intValue == 1)
            let error = try await #require(throws: MongoError.self) { try await db.runCommand(["find": "c", "filter": 5]) }
            #expect(error.code == .commandFailed)
            #expect(error.operation == "find")
            await KnownDeviation.unknownCommandsSucceed.expectOnMongoDB {
                let unknown = try await #require(throws: MongoError.self) { try await db.runCommand(["noSuchCommandAtAll": 1]) }
                #expect(unknown.serverCode == 59)
            }
        }
    }

    @Test("the command monitor counts started and succeeded commands by name")
    func commandCounters() async throws {
        try await TestServer.withDatabase { db in
            let monitor = pool(db).monitor
            let before = monitor.snapshot()
            let collection = db.collection("c")
            try await collection.insertOne(["a": 1])
            try await collection.deleteMany(["a": 1])
            try await collection.updateMany(["a": 1], ["$set": ["b": 1]])
            let spent = monitor.snapshot().subtracting(before)
            #expect(spent.started("insert") == 1)
            #expect(spent.started("delete") == 1)
            #expect(spent.started("update") == 1)
            #expect(spent.byCommand["delete"]?.succeeded == 1)
            #expect(spent.writesStarted == 3)
        }
    }

    @Test("many concurrent operations share a small pool without deadlock")
    func concurrency() async throws {
        try await TestServer.withDatabase(maximumSize: 2) { db in
            let collection = db.collection("c")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<40 { group.addTask { try await collection.insertOne(["i": .int32(Int32(i))]) } }
                try await group.waitForAll()
            }
            #expect(try await collection.countDocuments() == 40)
        }
    }

    @Test("shutdown waits for an open cursor, then refuses new work")
    func shutdown() async throws {
        let pool = try TestServer.pool(maximumSize: 2)
        let collection = pool.database(TestServer.uniqueDatabaseName()).collection("c")
        try await collection.insertMany((0..<30).map { ["i": .int32(Int32($0))] })
        let cursor = try await collection.find([:], options: FindOptions(batchSize: 10))
        var iterator = cursor.makeAsyncIterator()
        _ = try await iterator.next()
        let shutdownTask = Task { await pool.shutdown() }
        var rest = 1
        while try await iterator.next() != nil { rest += 1 }
        #expect(rest == 30)
        await shutdownTask.value
        #expect(pool.isShutDown)
        let error = try await #require(throws: MongoError.self) { try await collection.countDocuments() }
        #expect(error.code == .poolClosed)
    }

    @Test("an unreachable server fails after the selection timeout, naming the host")
    func unreachable() async throws {
        let pool = try MongoClientPool(uri: "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=300")
        let started = ContinuousClock.now
        let error = try await #require(throws: MongoError.self) { try await pool.ping() }
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(error.code == .serverSelectionFailed)
        #expect(error.isRetriable)
        #expect(error.description.contains("127.0.0.1:1"))
        await pool.shutdown()
    }
}

private func pool(_ db: MongoDatabase) -> MongoClientPool { db.pool }
