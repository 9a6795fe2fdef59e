import BSON
import Foundation
import LetheTestSupport
import MongoKit
import Testing

/// The next event of `stream`, or nil when none came within `timeout` (the wait is
/// then cancelled, which closes the stream).
private func nextEvent(_ stream: MongoChangeStream, within timeout: Duration = .seconds(15)) async throws -> BSONDocument? {
    try await finishes(within: timeout) { try await stream.next() } ?? nil
}

@Suite("Change streams (integration)", .enabled(if: TestServer.isConfigured, TestServer.skipReason))
struct ChangeStreamIntegrationTests {
    @Test("watch a collection: an insert arrives as an event with a resume token; a new stream resumes after it")
    func insertArrives() async throws {
        try await TestServer.withDatabase("cs") { db in
            let collection = db.collection("inbox")
            let stream = try await collection.watch()
            let first = try await collection.insertOne(["n": 1])
            let event = try #require(try await nextEvent(stream), "no event within 15 s")
            #expect(event["operationType"] == "insert")
            #expect(event.value(atPath: "ns.db")?.stringValue == db.name)
            #expect(event.value(atPath: "ns.coll") == "inbox")
            #expect(event.value(atPath: "documentKey._id") == first.insertedId)
            #expect(event.value(atPath: "fullDocument.n")?.intValue == 1)
            KnownDeviation.changeStreamObjectIdShape.expectOnMongoDB {
                #expect(event.value(atPath: "fullDocument._id") == first.insertedId)
            }
            let token = try #require(stream.resumeToken)
            stream.close()
            #expect(try await stream.next() == nil, "a closed stream ends")

            // Inserted while no stream was open: a stream resuming after the token sees it.
            let second = try await collection.insertOne(["n": 2])
            let resumed = try await collection.watch(options: ChangeStreamOptions(resumeAfter: token))
            let missed = try #require(try await nextEvent(resumed), "no resumed event within 15 s")
            #expect(missed.value(atPath: "documentKey._id") == second.insertedId)
            resumed.close()
        }
    }

    @Test("a pipeline filters and shapes events")
    func pipeline() async throws {
        try await TestServer.withDatabase("cs") { db in
            let collection = db.collection("c")
            let stream = try await collection.watch([
                ["$match": ["operationType": "insert"]],
                ["$project": ["operationType": 1]],
            ])
            try await collection.insertOne(["secret": "alice@example.com"])
            try await collection.deleteMany([:])
            try await collection.insertOne(["n": 2])
            for _ in 0..<2 {
                let event = try #require(try await nextEvent(stream), "no event within 15 s")
                #expect(event["operationType"] == "insert")
                KnownDeviation.changeStreamProjectionIgnored.expectOnMongoDB { #expect(event["fullDocument"] == nil) }
                #expect(event["_id"] != nil, "the resume token stays")
            }
            stream.close()
        }
    }

    @Test("watch a database: inserts into any of its collections arrive",
          .disabled(if: KnownDeviation.databaseChangeStreamSilent.applies, "nx-27017: \(KnownDeviation.databaseChangeStreamSilent.rawValue)"))
    func database() async throws {
        try await TestServer.withDatabase("cs") { db in
            let stream = try await db.watch([["$match": ["operationType": "insert"]]])
            try await db.collection("a").insertOne(["n": 1])
            try await db.collection("b").insertOne(["n": 2])
            var collections: Set<String> = []
            for _ in 0..<2 {
                let event = try #require(try await nextEvent(stream), "no event within 15 s")
                collections.insert(event.value(atPath: "ns.coll")?.stringValue ?? "?")
            }
            #expect(collections == ["a", "b"])
            stream.close()
        }
    }

    @Test("an idle stream waits on the server, not in a tight loop")
    func idleStreamPaces() async throws {
        try await TestServer.withDatabase("cs") { db in
            let pool = db.pool
            let stream = try await db.collection("quiet").watch(options: ChangeStreamOptions(maxAwaitTime: .milliseconds(500)))
            let before = pool.monitor.snapshot()
            #expect(try await nextEvent(stream, within: .seconds(2)) == nil)
            let spent = pool.monitor.snapshot().subtracting(before)
            // 2 s of waits of 500 ms (or, on a server that answers at once, one every
            // 250 ms): a handful of getMores, not thousands.
            #expect(spent.started("getMore") <= 12, "\(spent.started("getMore")) getMores in 2 s")
        }
    }

    @Test("cancelling a wait ends it at once; the client comes back to the pool")
    func cancellation() async throws {
        try await TestServer.withDatabase("cs", maximumSize: 1) { db in
            let collection = db.collection("c")
            // A long wait on the server: cancellation must not wait for it.
            let stream = try await collection.watch(options: ChangeStreamOptions(maxAwaitTime: .seconds(10)))
            let reader = Task { try await stream.next() }
            try await Task.sleep(for: .milliseconds(300))
            let clock = ContinuousClock()
            let cancelledAt = clock.now
            reader.cancel()
            await #expect(throws: CancellationError.self) { try await reader.value }
            #expect(clock.now - cancelledAt < .seconds(5), "the cancelled wait returned only after \(clock.now - cancelledAt)")
            // The only client is free again once the server answers the wait in progress.
            #expect(try await collection.countDocuments() == 0)
            #expect(try await stream.next() == nil, "a cancelled stream is closed")
        }
    }

    @Test("two readers at once: the second is refused, and the stream ends for both")
    func secondReader() async throws {
        try await TestServer.withDatabase("cs") { db in
            let stream = try await db.collection("c").watch(options: ChangeStreamOptions(maxAwaitTime: .seconds(2)))
            // Nothing is inserted: a reader returns only when refused or when the stream ends.
            let outcomes = try await finishes(within: .seconds(30)) {
                await withTaskGroup(of: Result<BSONDocument?, any Error>.self) { group in
                    for _ in 0..<2 {
                        group.addTask {
                            do { return .success(try await stream.next()) } catch { return .failure(error) }
                        }
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
            }
            let both = try #require(outcomes, "the readers still waited after 30 s")
            let refusals = both.compactMap { outcome -> MongoError? in
                if case .failure(let error as MongoError) = outcome { error } else { nil }
            }
            #expect(refusals.map(\.code) == [.invalidArgument], "\(both)")
            #expect(both.contains { if case .success(nil) = $0 { true } else { false } }, "the first reader ends: \(both)")
            #expect(try await stream.next() == nil, "the stream is closed")
        }
    }

    @Test("dropping the watched collection: the invalidate event arrives, then the stream ends",
          .disabled(if: KnownDeviation.changeStreamNoInvalidate.applies, "nx-27017: \(KnownDeviation.changeStreamNoInvalidate.rawValue)"))
    func invalidate() async throws {
        try await TestServer.withDatabase("cs") { db in
            let collection = db.collection("dropped")
            try await collection.insertOne(["n": 1])
            let stream = try await collection.watch()
            try await collection.drop()
            var kinds: [String] = []
            while kinds.last != "invalidate", kinds.count < 5 {
                let event = try #require(try await nextEvent(stream), "no event within 15 s after \(kinds)")
                kinds.append(event["operationType"]?.stringValue ?? "?")
            }
            #expect(kinds.last == "invalidate", "\(kinds)")
            #expect(try await stream.next() == nil, "the stream ends after invalidate")
        }
    }

    @Test("shutdown closes open streams, idle or waiting, instead of waiting for them forever")
    func shutdownClosesStreams() async throws {
        let pool = try TestServer.pool(maximumSize: 2)
        let collection = pool.database(TestServer.uniqueDatabaseName("cs")).collection("c")
        let idle = try await collection.watch()
        let waiting = try await collection.watch()
        let reader = Task { try await waiting.next() }
        try await Task.sleep(for: .milliseconds(300))
        let finished = try await finishes(within: .seconds(30)) {
            await pool.shutdown()
            return true
        }
        #expect(finished == true, "shutdown still waiting after 30 s")
        await #expect(throws: MongoError.self) { try await reader.value }
        await #expect(throws: MongoError.self) { try await idle.next() }
        await #expect(throws: MongoError.self) { try await collection.watch() }
    }

    @Test("a server or namespace without change streams gives a clear MongoError",
          .disabled(if: KnownDeviation.changeStreamsNeverRefused.applies, "nx-27017: \(KnownDeviation.changeStreamsNeverRefused.rawValue)"))
    func refused() async throws {
        try await TestServer.withDatabase("cs") { db in
            let standalone = try await !TestServer.offersChangeStreams(db.pool)
            // A standalone server refuses every change stream; a replica set or mongos
            // refuses one on the admin database.
            let target = standalone ? db : db.pool.database("admin")
            let error = try await #require(throws: MongoError.self) { try await target.watch() }
            #expect(error.operation == "watch")
            #expect(error.code == (standalone ? .changeStreamsUnavailable : .commandFailed), "\(error.debugDescription)")
            #expect(error.serverCode != nil)
            if let detail = error.detail { #expect(!error.description.contains(detail)) }
        }
    }
}
