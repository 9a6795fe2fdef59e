import BSON
import Foundation
@testable import LetheCLI
import LetheCore
import LetheTestSupport
import MongoKit
import Testing

@Suite("lethe sweep: the progress bar")
struct ProgressBarTests {
    @Test("the bar fills with the documents done, and says how many of how many")
    func render() {
        #expect(ProgressBar.render(label: "rule", done: 0, total: 200, width: 10) == "rule [..........] 0/200 0%")
        #expect(ProgressBar.render(label: "rule", done: 50, total: 200, width: 10) == "rule [##........] 50/200 25%")
        #expect(ProgressBar.render(label: "rule", done: 199, total: 200, width: 10) == "rule [#########.] 199/200 99%")
        #expect(ProgressBar.render(label: "rule", done: 200, total: 200, width: 10) == "rule [##########] 200/200 100%")
        // Never past full, never below empty; nothing to do is done.
        #expect(ProgressBar.render(label: "r", done: 300, total: 200, width: 4) == "r [####] 300/200 100%")
        #expect(ProgressBar.render(label: "r", done: 0, total: 0, width: 4) == "r [####] 0/0 100%")
        #expect(ProgressBar.render(label: "r", done: 5, total: 7).count == "r [] 5/7 71%".count + ProgressBar.defaultWidth)
    }

    @Test("the label names the rule as the finished line does; redrawing returns to the start and erases the line")
    func terminal() {
        let rule = SweepReport.Rule(policy: "todo-app", ruleIndex: 0, namespace: "todo.sessions", action: .delete, matched: 9, deleted: 0, modified: 0)
        #expect(ProgressBar.label(rule) == "  todo-app retention #1 todo.sessions")
        #expect(ProgressBar.redraw("x") == "\r\u{1B}[2Kx")
        #expect(!ProgressBar.render(label: "x", done: 1, total: 2).contains("\u{1B}"), "the text itself has no escape codes")
    }
}

@Suite("lethe serve --orphan-sweep-cron")
struct ServeOrphanOptionTests {
    @Test("a bad cron expression is bad usage; a schedule without any policy's users says what to add")
    func options() throws {
        let bad = try LetheExecutable.run(["serve", "--no-http", "--orphan-sweep-cron", "0 25 * * *"])
        #expect(bad.exitCode == 64 && bad.stderr.contains("--orphan-sweep-cron"), "\(bad.output)")
        let policies = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-serve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: policies, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: policies) }
        try "version: 1\nname: p\ndatabase: d\nrules:\n  - { collection: c, match: m, action: delete }\n"
            .write(to: policies.appendingPathComponent("p.yaml"), atomically: true, encoding: .utf8)
        let none = try LetheExecutable.run(["serve", "--no-http", "--orphan-sweep-cron", "0 4 * * *", "--policies", policies.path])
        #expect(none.exitCode == 65, "\(none.output)")
        #expect(none.stderr.contains("--orphan-sweep-cron needs a policy that says where its users are listed"), "\(none.stderr)")
    }
}

private let orphanPolicy = """
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
retention:
  - collection: sessions
    field: last_seen
    olderThan: 30d
    action: delete
users: { collection: USERS, field: user_id, grace: 1d }
"""

@Suite("lethe sweep --orphans (integration)", .enabled(if: TestServer.isConfigured, TestServer.skipReason), .serialized)
struct CLISweepTests {
    struct Fixture: TearsDown {
        let pool: MongoClientPool
        let database: MongoDatabase
        let policies: URL
        var state: String { database.name + "_state" }
        var environment: [String: String] { ["LETHE_MONGODB_URI": TestServer.uri!, "LETHE_HASH_KEY": ""] }

        /// Users user-0 … user-19 have profiles; user-20 and user-21 have notes only.
        static func make(users: String = "profiles") async throws -> Fixture {
            let pool = try TestServer.pool()
            let database = pool.database(TestServer.uniqueDatabaseName("orph"))
            let policies = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-orph-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: policies, withIntermediateDirectories: true)
            try orphanPolicy.replacingOccurrences(of: "DATABASE", with: database.name).replacingOccurrences(of: "USERS", with: users)
                .write(to: policies.appendingPathComponent("notes.yaml"), atomically: true, encoding: .utf8)
            try await database.collection("profiles").insertMany((0..<20).map { ["user_id": .string("user-\($0)")] })
            try await database.collection("notes").insertMany((0..<22).flatMap { i in
                [["owner": .string("user-\(i)")], ["owner": .string("user-\(i)")]] as [BSONDocument]
            })
            let old = BSONDatetime(Date().addingTimeInterval(-90 * 86_400))
            try await database.collection("sessions").insertMany((0..<30).map { _ in ["last_seen": .datetime(old)] })
            return Fixture(pool: pool, database: database, policies: policies)
        }

        func lethe(_ command: [String]) throws -> LetheExecutable.Result {
            try LetheExecutable.run(command + ["--policies", policies.path, "--state-db", state], environment: environment)
        }

        func owners() async throws -> Set<String> {
            Set(try await database.collection("notes").find().toArray().compactMap { $0["owner"]?.stringValue })
        }

        func tearDown() async {
            try? await database.drop()
            try? await pool.database(state).drop()
            try? FileManager.default.removeItem(at: policies)
            await pool.shutdown()
        }
    }

    static let everyone = Set((0..<22).map { "user-\($0)" })

    @Test("dry run, first sweep (grace), sweep after the grace: the orphans' notes go through requests; a rerun adds none; no id printed")
    func endToEnd() async throws {
        try await Fixture.make().use { fixture in

            let dry = try fixture.lethe(["sweep", "--orphans", "--dry-run"])
            #expect(dry.exitCode == 0, "\(dry.output)")
            #expect(dry.stdout.contains("notes #1 delete \(fixture.database.name).notes: 2 orphan id(s), 4 document(s) to delete"), "\(dry.stdout)")
            #expect(dry.stdout.contains("22 linked id(s), 2 orphan(s): 0 past the grace period (1d), 2 waiting"), "\(dry.stdout)")
            #expect(try await fixture.owners() == Self.everyone, "a dry run changes nothing")

            let first = try fixture.lethe(["sweep", "--orphans"])
            #expect(first.exitCode == 0, "\(first.output)")
            #expect(first.stdout.contains("requested 0"), "\(first.stdout)")
            #expect(try await fixture.owners() == Self.everyone, "first seen now: nothing erased yet")

            // A day passes.
            let dayAgo = BSON.int64(BSONDatetime(Date().addingTimeInterval(-86_401)).millisecondsSinceEpoch)
            try await fixture.pool.database(fixture.state).collection("orphans").updateMany([:], ["$set": ["firstSeenMilliseconds": dayAgo]])

            let second = try fixture.lethe(["sweep", "--orphans"])
            #expect(second.exitCode == 0, "\(second.output)")
            #expect(second.stdout.contains("requested 2 (source orphan-sweep)"), "\(second.stdout)")
            #expect(second.stdout.contains("processed 2 request(s): 2 done, 0 failed, 0 waiting"), "\(second.stdout)")
            #expect(try await fixture.owners() == Self.everyone.subtracting(["user-20", "user-21"]), "only the orphans' notes went")
            #expect(try await fixture.database.collection("profiles").countDocuments() == 20)

            let third = try fixture.lethe(["sweep", "--orphans"])
            #expect(third.exitCode == 0 && third.stdout.contains("0 orphan(s)") && third.stdout.contains("requested 0"), "\(third.stdout)")
            let requests = try await fixture.pool.database(fixture.state).collection("requests").find().toArray()
            #expect(requests.count == 2 && requests.allSatisfy { $0["source"] == "orphan-sweep" })

            for run in [dry, first, second, third] {
                #expect(!run.output.contains("user-2"), "no id in the output")
                #expect(!run.output.contains("\u{1B}"), "not a terminal: no escape codes")
            }
        }
    }

    @Test("refusals: an empty users collection (65), too many orphans (75) unless --allow-many; nothing changed")
    func refusals() async throws {
        try await Fixture.make(users: "profile").use { fixture in
            let empty = try fixture.lethe(["sweep", "--orphans"])
            #expect(empty.exitCode == 65, "\(empty.output)")
            #expect(empty.stderr.contains("the users collection \(fixture.database.name).profile of policy notes is empty or does not exist"), "\(empty.stderr)")
            #expect(empty.stderr.contains("Check users.collection"))

            try orphanPolicy.replacingOccurrences(of: "DATABASE", with: fixture.database.name).replacingOccurrences(of: "USERS", with: "profiles")
                .write(to: fixture.policies.appendingPathComponent("notes.yaml"), atomically: true, encoding: .utf8)
            let many = try fixture.lethe(["sweep", "--orphans", "--max-orphans", "1"])
            #expect(many.exitCode == 75, "\(many.output)")
            #expect(many.stderr.contains("2 orphan id(s), more than the limit of 1") && many.stderr.contains("--allow-many"), "\(many.stderr)")
            let dry = try fixture.lethe(["sweep", "--orphans", "--dry-run", "--max-orphan-percent", "5"])
            #expect(dry.exitCode == 0)
            #expect(dry.stderr.contains("warning: the real sweep would refuse: 2 orphan id(s) are 9 % of the 22 linked ids, more than the limit of 5 %"), "\(dry.stderr)")
            let allowed = try fixture.lethe(["sweep", "--orphans", "--max-orphans", "1", "--allow-many"])
            #expect(allowed.exitCode == 0, "\(allowed.output)")
            #expect(try await fixture.owners() == Self.everyone)
            for run in [empty, many, dry, allowed] { #expect(!run.output.contains("user-2")) }

            let misuse = try fixture.lethe(["sweep", "--allow-many"])
            #expect(misuse.exitCode == 64 && misuse.stderr.contains("go with --orphans"), "\(misuse.output)")
        }
    }

    @Test("the retention sweep, not on a terminal: plain lines, no escape codes")
    func retentionPlain() async throws {
        try await Fixture.make().use { fixture in
            let run = try fixture.lethe(["sweep", "--batch-size", "7", "--sweep-batch-size", "7"])
            #expect(run.exitCode == 0, "\(run.output)")
            #expect(run.stdout.contains("notes retention #1 \(fixture.database.name).sessions: 30 past their period, deleted 30"), "\(run.stdout)")
            #expect(!run.output.contains("\u{1B}") && !run.output.contains("\r"))
            #expect(try await fixture.database.collection("sessions").countDocuments() == 0)
        }
    }
}
