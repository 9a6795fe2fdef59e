import BSON
import Foundation
@testable import LetheCLI
import LetheCore
import LetheTestSupport
import MongoKit
import Testing

private let notesPolicy = """
version: 1
name: notes
database: DATABASE
subject: { idType: string, includeIdentities: false }
rules:
  - collection: notes
    match: owner
    action: delete
  - collection: profiles
    match: user_id
    action: delete
users: { collection: profiles, field: user_id }
"""

/// After a backup is restored, and what no policy covers: through the command line,
/// against the test server.
@Suite("lethe sweep --restored and lethe coverage (integration)", .enabled(if: TestServer.isConfigured, TestServer.skipReason), .serialized)
struct CLIRestoreTests {
    struct Fixture: TearsDown {
        let pool: MongoClientPool
        let database: MongoDatabase
        let policies: URL
        var state: String { database.name + "_state" }
        var environment: [String: String] { ["LETHE_MONGODB_URI": TestServer.uri!, "LETHE_HASH_KEY": ""] }

        /// user-0 … user-5, each a profile made ten days ago (its ObjectId says so) and two notes.
        static func make() async throws -> Fixture {
            let pool = try TestServer.pool()
            let database = pool.database(TestServer.uniqueDatabaseName("rest"))
            let policies = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-rest-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: policies, withIntermediateDirectories: true)
            try notesPolicy.replacingOccurrences(of: "DATABASE", with: database.name)
                .write(to: policies.appendingPathComponent("notes.yaml"), atomically: true, encoding: .utf8)
            let tenDaysAgo = Date().addingTimeInterval(-10 * 86_400)
            try await database.collection("profiles").insertMany((0..<6).map {
                ["_id": .objectId(Self.objectId(at: tenDaysAgo, serial: UInt8($0))), "user_id": .string("user-\($0)"),
                 "email": .string("user\($0)@example.com")]
            })
            try await database.collection("notes").insertMany((0..<6).flatMap { i in
                [["owner": .string("user-\(i)"), "text": "a"], ["owner": .string("user-\(i)"), "text": "b"]] as [BSONDocument]
            })
            return Fixture(pool: pool, database: database, policies: policies)
        }

        static func objectId(at date: Date, serial: UInt8) -> BSONObjectId {
            let seconds = UInt32(date.timeIntervalSince1970)
            return BSONObjectId(bytes: [UInt8(seconds >> 24), UInt8(seconds >> 16 & 0xff), UInt8(seconds >> 8 & 0xff), UInt8(seconds & 0xff)]
                                + [UInt8](repeating: 0, count: 7) + [serial])!
        }

        func lethe(_ command: [String]) throws -> LetheExecutable.Result {
            try LetheExecutable.run(command + ["--policies", policies.path, "--state-db", state], environment: environment)
        }

        /// A mongodump-style copy: every document of every collection.
        func copy() async throws -> [String: [BSONDocument]] {
            var copy: [String: [BSONDocument]] = [:]
            for name in try await database.listCollectionNames() { copy[name] = try await database.collection(name).find().toArray() }
            return copy
        }

        /// mongorestore --drop: each collection of the copy replaced whole.
        func restore(_ copy: [String: [BSONDocument]]) async throws {
            for (name, documents) in copy {
                try await database.collection(name).drop()
                if !documents.isEmpty { _ = try await database.collection(name).insertMany(documents) }
            }
        }

        func owners() async throws -> [String: Int] {
            var counts: [String: Int] = [:]
            for note in try await database.collection("notes").find().toArray() { counts[note["owner"]?.stringValue ?? "", default: 0] += 1 }
            return counts
        }

        func tearDown() async {
            try? await database.drop()
            try? await pool.database(state).drop()
            try? FileManager.default.removeItem(at: policies)
            await pool.shutdown()
        }
    }

    @Test("erase, restore the copy, sweep --restored: the erased users' data goes again, the re-registered user stays; no id printed")
    func restoreSweep() async throws {
        try await Fixture.make().use { fixture in
            let copy = try await fixture.copy()
            var runs: [LetheExecutable.Result] = []
            for user in ["user-1", "user-2", "user-3"] {
                let erased = try fixture.lethe(["erase", "--user", user])
                #expect(erased.exitCode == 0, "\(erased.output)")
                runs.append(erased)
            }
            let tombstones = fixture.pool.database(fixture.state).collection("tombstones")
            #expect(try await tombstones.countDocuments() == 3)
            // The erasures were an hour ago; since then the backup was restored and user-3 signed up again.
            let hourAgo = BSON.int64(BSONDatetime(Date().addingTimeInterval(-3_600)).millisecondsSinceEpoch)
            try await tombstones.updateMany([:], ["$set": ["erasedAtMilliseconds": hourAgo]])
            try await fixture.restore(copy)
            try await fixture.database.collection("profiles").insertOne(["_id": .objectId(BSONObjectId()), "user_id": "user-3"])
            try await fixture.database.collection("notes").insertOne(["owner": "user-3", "text": "new"])

            let dry = try fixture.lethe(["sweep", "--restored", "--dry-run"])
            #expect(dry.exitCode == 0, "\(dry.output)")
            #expect(dry.stdout.contains("notes #1 delete \(fixture.database.name).notes: 4 restored document(s) to delete"), "\(dry.stdout)")
            #expect(dry.stdout.contains("6 distinct value(s) read, 3 erased before; 1 kept as signed up again; 2 erased user(s) back"), "\(dry.stdout)")
            #expect(try await fixture.owners()["user-1"] == 2, "a dry run changes nothing")

            let sweep = try fixture.lethe(["sweep", "--restored"])
            #expect(sweep.exitCode == 0, "\(sweep.output)")
            #expect(sweep.stdout.contains("requested 2 (source restore-sweep)"), "\(sweep.stdout)")
            #expect(sweep.stdout.contains("processed 2 request(s): 2 done"), "\(sweep.stdout)")
            #expect(try await fixture.owners() == ["user-0": 2, "user-3": 3, "user-4": 2, "user-5": 2])
            let profiles = try await fixture.database.collection("profiles").find().toArray().compactMap { $0["user_id"]?.stringValue }
            #expect(profiles.sorted() == ["user-0", "user-3", "user-3", "user-4", "user-5"])

            let requests = try LetheExecutable.run(["requests", "--state-db", fixture.state], environment: fixture.environment)
            #expect(requests.stdout.components(separatedBy: " restore-sweep ").count - 1 == 2, "\(requests.stdout)")
            let again = try fixture.lethe(["sweep", "--restored"])
            #expect(again.stdout.contains("0 erased user(s) back") && again.stdout.contains("requested 0"), "\(again.stdout)")
            let since = try fixture.lethe(["sweep", "--restored", "--since", "2999-01-01"])
            #expect(since.exitCode == 0 && since.stdout.contains("0 erased before"), "\(since.output)")
            let misuse = try fixture.lethe(["sweep", "--since", "2020-01-01"])
            #expect(misuse.exitCode == 64 && misuse.stderr.contains("go with --restored"), "\(misuse.output)")

            for run in runs + [dry, sweep, requests, again] {
                #expect(!(0..<6).contains { run.output.contains("user-\($0)") }, "no id in the output: \(run.output)")
            }
        }
    }

    @Test("coverage: the uncovered collection and field are reported by kind and count, the draft names them, nothing is written")
    func coverage() async throws {
        try await Fixture.make().use { fixture in
            try await fixture.database.collection("audit_log").insertMany((0..<4).map {
                ["actor": .string("user-\($0)"), "details": ["email": .string("user\($0)@example.com"), "ip": "203.0.113.7"]]
            })
            let before = try await fixture.copy()
            let text = try fixture.lethe(["coverage", "--sample", "50"])
            #expect(text.exitCode == 0, "\(text.output)")
            #expect(text.stdout.contains("\(fixture.database.name).audit_log: 4 sampled, 4 path(s), no rule"), "\(text.stdout)")
            #expect(text.stdout.contains("UNCOVERED actor: user-id 4 of 4 value(s)"), "\(text.stdout)")
            #expect(text.stdout.contains("UNCOVERED details.email: email 4 of 4 value(s)"), "\(text.stdout)")
            #expect(text.stdout.contains("UNCOVERED email: email 6 of 6 value(s)") == false, "the profiles are deleted whole: covered")
            #expect(text.stdout.contains("covered   owner: user-id 12 of 12 value(s) (notes #1 delete (match))"), "\(text.stdout)")
            let yaml = try fixture.lethe(["coverage", "--format", "yaml"])
            #expect(yaml.stdout.contains("  - collection: audit_log\n    match: [actor]\n    action: delete"), "\(yaml.stdout)")
            let json = try fixture.lethe(["coverage", "--format", "json", "--database", fixture.database.name])
            let decoded = try JSONDecoder.iso8601.decode(CoverageReport.self, from: Data(json.stdout.utf8))
            #expect(decoded.uncovered.count == 3, "\(json.stdout)")
            for run in [text, yaml, json] { #expect(!(0..<6).contains { run.output.contains("user-\($0)") } && !run.output.contains("example.com")) }
            #expect(try await fixture.copy() == before, "nothing written")
            #expect(try await fixture.pool.database(fixture.state).listCollectionNames().isEmpty, "not even the state database")
            let bad = try fixture.lethe(["coverage", "--sample", "20000"])
            #expect(bad.exitCode == 64 && bad.stderr.contains("--sample must be between 1 and 10000"), "\(bad.output)")
        }
    }
}

extension JSONDecoder {
    static var iso8601: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

@Suite("lethe serve --restore-sweep-cron, lethe sweep --restored: usage")
struct RestoreOptionTests {
    @Test("a bad cron expression or --since is bad usage, named; --orphans and --restored are two sweeps")
    func options() throws {
        let cron = try LetheExecutable.run(["serve", "--no-http", "--restore-sweep-cron", "0 25 * * *"])
        #expect(cron.exitCode == 64 && cron.stderr.contains("--restore-sweep-cron"), "\(cron.output)")
        let since = try LetheExecutable.run(["sweep", "--restored", "--since", "yesterday"])
        #expect(since.exitCode == 64 && since.stderr.contains("--since"), "\(since.output)")
        let both = try LetheExecutable.run(["sweep", "--restored", "--orphans"])
        #expect(both.exitCode == 64 && both.stderr.contains("two sweeps"), "\(both.output)")
        let limit = try LetheExecutable.run(["sweep", "--restored", "--max-requests", "0"])
        #expect(limit.exitCode == 64 && limit.stderr.contains("--max-requests must be between 1 and 100000"), "\(limit.output)")
    }
}
