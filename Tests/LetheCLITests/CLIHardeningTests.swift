import BSON
import Foundation
import LetheTestSupport
import MongoKit
import Testing

private struct HardeningFixture: TearsDown {
    let pool: MongoClientPool
    let database: MongoDatabase
    let policies: URL
    var state: String { database.name + "_state" }

    static func make() async throws -> HardeningFixture {
        let pool = try TestServer.pool()
        let database = pool.database(TestServer.uniqueDatabaseName("hard"))
        let policies = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-hard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: policies, withIntermediateDirectories: true)
        try "version: 1\nname: todo\ndatabase: \(database.name)\nsubject: { idType: string }\nrules:\n  - { collection: Item, match: owner_id, action: delete }\n"
            .write(to: policies.appendingPathComponent("todo.yaml"), atomically: true, encoding: .utf8)
        try await database.collection("Item").insertMany((0..<21).map { ["owner_id": .string("user-\($0 % 3)"), "title": "t"] })
        return HardeningFixture(pool: pool, database: database, policies: policies)
    }

    var environment: [String: String] { ["LETHE_MONGODB_URI": TestServer.uri!, "LETHE_HASH_KEY": "", "LETHE_HTTP_TOKEN": "", "LETHE_HTTP_SECRET": ""] }

    func run(_ command: [String], stateDb: String? = nil, stdin: String? = nil) throws -> LetheExecutable.Result {
        try LetheExecutable.run(command + ["--policies", policies.path, "--state-db", stateDb ?? state], environment: environment, stdin: stdin)
    }

    func items() async throws -> Int { try await database.collection("Item").countDocuments() }

    func tearDown() async {
        try? await database.drop()
        try? await pool.database(state).drop()
        try? FileManager.default.removeItem(at: policies)
        await pool.shutdown()
    }
}

/// Issue 16 through the command line: flags that would point Lethe at its own records or
/// at a policy's data, bad database names, damaged ids, and refusal numbering.
@Suite("lethe: hardened flags (integration)", .enabled(if: TestServer.isConfigured, TestServer.skipReason), .serialized)
struct CLIHardeningTests {
    @Test("--inbox at a policy's collection or at Lethe's records is refused before anything is read; nothing is deleted")
    func inboxFlag() async throws {
        try await HardeningFixture.make().use { fixture in
            let policyCollection = try fixture.run(["run", "--once", "--inbox", "\(fixture.database.name).Item"])
            #expect(policyCollection.exitCode == 65, "\(policyCollection.output)")
            #expect(policyCollection.stderr.contains("--inbox \(fixture.database.name).Item is a collection policy todo"))
            for record in ["receipts", "audit", "requests"] {
                let own = try fixture.run(["run", "--once", "--inbox", "\(fixture.state).\(record)"])
                #expect(own.exitCode == 64, "\(own.output)")
                #expect(own.stderr.contains("one of Lethe's own records"))
            }
            #expect(try await fixture.items() == 21)
            // A collection no policy names, holding no events: the drain stops, exit 65, nothing deleted.
            try await fixture.database.collection("Other").insertMany([["title": "a"], ["title": "b"]])
            let other = try fixture.run(["run", "--once", "--inbox", "\(fixture.database.name).Other"])
            #expect(other.exitCode == 65, "\(other.output)")
            #expect(other.stderr.contains("none is a deletion event"))
            #expect(try await fixture.database.collection("Other").countDocuments() == 2)
        }
    }

    @Test("--state-db: '$x', admin and a policy's database are refused (64, 64, 65); validate knows --state-db")
    func stateDatabase() async throws {
        try await HardeningFixture.make().use { fixture in
            let dollar = try fixture.run(["run", "--once"], stateDb: "$x")
            #expect(dollar.exitCode == 64, "\(dollar.output)")
            #expect(dollar.stderr.contains("--state-db is not a database name: it contains '$'"))
            #expect(try fixture.run(["run", "--once"], stateDb: "admin").exitCode == 64)
            let own = try fixture.run(["erase", "--user", "user-1"], stateDb: fixture.database.name)
            #expect(own.exitCode == 65, "\(own.output)")
            #expect(own.stderr.contains("which is the state database"))
            let validate = try fixture.run(["validate"], stateDb: fixture.database.name)
            #expect(validate.exitCode == 65, "\(validate.output)")
            #expect(try await fixture.items() == 21)
        }
    }

    @Test("an id that was invalid UTF-8 on the command line (U+FFFD) is refused and erases nothing")
    func damagedUser() async throws {
        try await HardeningFixture.make().use { fixture in
            try await fixture.database.collection("Item").insertOne(["owner_id": "\u{FFFD}\u{FFFD}"])
            let result = try fixture.run(["erase", "--user", "\u{FFFD}\u{FFFD}"])
            #expect(result.exitCode == 65, "\(result.output)")
            #expect(result.stderr.contains("U+FFFD"))
            #expect(try await fixture.items() == 22)
        }
    }

    @Test("enqueue numbers refused events from 1, and says the line")
    func refusalNumbering() async throws {
        try await HardeningFixture.make().use { fixture in
            let good = #"{"specversion":"1.0","id":"e1","source":"s","type":"user.deleted","data":{"userId":"user-1"}}"#
            let bad = #"{"specversion":"1.0","id":"e2","source":"s","type":"user.deleted","data":{"userId":"has space"}}"#
            let result = try fixture.run(["enqueue", "--event-file", "-"], stdin: good + "\n" + bad + "\n")
            #expect(result.exitCode == 65)
            #expect(result.stderr.contains("refused event #2: not-plain-id: line 2: "), "\(result.stderr)")
        }
    }
}

/// Checks that need no server: they refuse before connecting.
@Suite("lethe: hardened flags (no server)")
struct CLIHardeningFlagTests {
    @Test("more than 100 --identity flags are bad usage (the bound of an event), before anything is read")
    func tooManyIdentities() throws {
        let identities = (0...100).flatMap { ["--identity", "id-\($0)"] }
        let result = try LetheExecutable.run(["plan", "--user", "u1"] + identities, environment: ["LETHE_MONGODB_URI": "mongodb://127.0.0.1:1/"])
        #expect(result.exitCode == 64, "\(result.output)")
        #expect(result.stderr.contains("--identity is given 101 times; at most 100"))
    }

    @Test("--state-db '$x' and admin are bad usage (64) before anything is read")
    func stateDatabaseNames() throws {
        for name in ["$x", "admin", "a.b"] {
            let result = try LetheExecutable.run(["requests", "--state-db", name], environment: ["LETHE_MONGODB_URI": "mongodb://127.0.0.1:1/"])
            #expect(result.exitCode == 64, "\(name): \(result.output)")
        }
    }
}
