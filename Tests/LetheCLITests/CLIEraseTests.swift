import BSON
import Foundation
import LetheCore
import LetheTestSupport
import MongoKit
import Testing

private let hashKeyHex = String(repeating: "5a", count: 32)

private let policyYAML = """
version: 1
name: todo-app
database: DATABASE
subject:
  idType: string
  includeIdentities: true
rules:
  - collection: Item
    match: owner_id
    action: delete
  - collection: comments
    match: author.id
    action: anonymize
    set: { author.name: Deleted user }
    unset: [author.email]
    pseudonymize: [author.id]
  - collection: projects
    match: members
    action: pull
"""

/// A database with a policy directory for it, cleaned up after.
private struct CLIFixture: TearsDown {
    let pool: MongoClientPool
    let database: MongoDatabase
    let policies: URL
    var stateDatabase: String { database.name + "_state" }

    static func make(items: Int = 3) async throws -> CLIFixture {
        let pool = try TestServer.pool()
        let database = pool.database(TestServer.uniqueDatabaseName("cli"))
        let policies = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-policies-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: policies, withIntermediateDirectories: true)
        try policyYAML.replacingOccurrences(of: "DATABASE", with: database.name)
            .write(to: policies.appendingPathComponent("todo.yaml"), atomically: true, encoding: .utf8)
        let fixture = CLIFixture(pool: pool, database: database, policies: policies)
        try await fixture.seed(items: items)
        return fixture
    }

    func seed(items: Int) async throws {
        var docs: [BSONDocument] = (0..<items).map { ["owner_id": "alice-0001", "n": .int32(Int32($0))] }
        docs.append(["owner_id": "bob-0002"])
        try await database.collection("Item").insertMany(docs)
        try await database.collection("comments").insertMany([
            ["author": ["id": "alice-0001", "name": "Alice", "email": "alice@example.com"]],
            ["author": ["id": "bob-0002", "name": "Bob"]],
        ])
        try await database.collection("projects").insertMany([["members": ["alice-0001", "bob-0002"]]])
    }

    func lethe(_ arguments: [String], key: Bool = true) throws -> LetheExecutable.Result {
        try LetheExecutable.run(
            arguments + (["erase", "plan", "approve"].contains(arguments[0]) ? ["--policies", policies.path] : [])
                + ["--state-db", stateDatabase],
            environment: ["LETHE_MONGODB_URI": TestServer.uri!, "LETHE_HASH_KEY": key ? hashKeyHex : ""]
        )
    }

    func contents() async throws -> [String] {
        try await database.contentsWithoutIds(of: ["Item", "comments", "projects"])
    }

    func tearDown() async {
        try? await database.drop()
        try? await pool.database(stateDatabase).drop()
        try? FileManager.default.removeItem(at: policies)
        await pool.shutdown()
    }
}

@Suite("lethe erase, plan, receipt, hold, approve (integration)", .enabled(if: TestServer.isConfigured, TestServer.skipReason))
struct CLIEraseTests {
    @Test("erase prints a summary and the request id; receipt prints it without personal data")
    func eraseAndReceipt() async throws {
        try await CLIFixture.make().use { fixture in
            let erase = try fixture.lethe(["erase", "--user", "alice-0001", "--reason", "account deleted in app"])
            #expect(erase.exitCode == 0, "\(erase.output)")
            let id = try #require(erase.stdout.split(separator: " ").dropFirst().first.map { String($0.dropLast()) })
            #expect(id.hasPrefix("req_"))
            #expect(erase.stdout.contains("request \(id): done"))
            #expect(erase.stdout.contains("delete    \(fixture.database.name).Item: matched 3, deleted 3, verified"))
            #expect(erase.stdout.contains("lethe receipt \(id)"))
            #expect(try await fixture.database.collection("Item").countDocuments() == 1)

            let receipt = try fixture.lethe(["receipt", id, "--format", "json"])
            #expect(receipt.exitCode == 0, "\(receipt.output)")
            let json = try JSONSerialization.jsonObject(with: Data(receipt.stdout.utf8)) as? [String: Any]
            #expect(json?["requestId"] as? String == id)
            #expect(json?["outcome"] as? String == "completed")
            // Rules are numbered from 1 as people count; the stored ruleIndex stays from 0.
            let receiptRules = try #require(json?["rules"] as? [[String: Any]])
            #expect(receiptRules.map { $0["rule"] as? Int } == [1, 2, 3])
            #expect(receiptRules.map { $0["ruleIndex"] as? Int } == [0, 1, 2])
            #expect(erase.stdout.contains("todo-app #1 delete"), "\(erase.stdout)")
            for secret in ["alice-0001", "alice@example.com"] {
                #expect(!receipt.output.contains(secret))
                #expect(!erase.output.contains(secret))
            }
            let text = try fixture.lethe(["receipt", id])
            #expect(text.stdout.contains("Receipt for request \(id): completed"))
            let unknown = try fixture.lethe(["receipt", "req_nope"])
            #expect(unknown.exitCode == 65)
            #expect(unknown.stderr.contains("no request req_nope"))
        }
    }

    @Test("plan --format json (and the old --json) gives live counts, rules numbered from 1, and changes nothing")
    func plan() async throws {
        try await CLIFixture.make().use { fixture in
            let before = try await fixture.contents()
            let result = try fixture.lethe(["plan", "--user", "alice-0001", "--json"])
            #expect(result.exitCode == 0, "\(result.output)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            let rules = try #require(json["rules"] as? [[String: Any]])
            #expect(rules.map { $0["matched"] as? Int } == [3, 1, 1])
            #expect(rules[1]["fields"] as? [String] == ["author.name", "author.id", "author.email"])
            #expect(json["total"] as? Int == 5)
            #expect(rules.map { $0["rule"] as? Int } == [1, 2, 3])
            let formatted = try fixture.lethe(["plan", "--user", "alice-0001", "--format", "json"])
            #expect(formatted.stdout == result.stdout)
            #expect(try await fixture.contents() == before)
            let text = try fixture.lethe(["plan", "--user", "alice-0001"])
            #expect(text.stdout.contains("3 would be deleted"))
        }
    }

    @Test("hostile ids exit 65 with a clear message, and change nothing", arguments: [#"{"$ne": ""}"#, "", "[1,2]"])
    func hostile(id: String) async throws {
        try await CLIFixture.make().use { fixture in
            let before = try await fixture.contents()
            let result = try fixture.lethe(["erase", "--user", id])
            #expect(result.exitCode == 65, "\(result.output)")
            #expect(result.stderr.contains("the user id"))
            #expect(result.stderr.contains("nothing was changed"))
            #expect(try await fixture.contents() == before)
        }
    }

    @Test("a policy that pseudonymizes without LETHE_HASH_KEY stops before any write, naming the variable")
    func missingKey() async throws {
        try await CLIFixture.make().use { fixture in
            let before = try await fixture.contents()
            let result = try fixture.lethe(["erase", "--user", "alice-0001"], key: false)
            #expect(result.exitCode == 65)
            #expect(result.stderr.contains("LETHE_HASH_KEY"))
            #expect(try await fixture.contents() == before)
        }
    }

    @Test("hold add, erase waits (exit 75) with nothing changed, hold remove, erase finishes")
    func holds() async throws {
        try await CLIFixture.make().use { fixture in
            let added = try fixture.lethe(["hold", "add", "--user", "alice-0001", "--reason", "case 2026-17"])
            #expect(added.exitCode == 0, "\(added.output)")
            let holdId = try #require(added.stdout.split(separator: " ").dropFirst().first.map(String.init))
            #expect(!added.output.contains("alice-0001"))
            let list = try fixture.lethe(["hold", "list"])
            #expect(list.stdout.contains(holdId))
            let before = try await fixture.contents()
            let held = try fixture.lethe(["erase", "--user", "alice-0001"])
            #expect(held.exitCode == 75, "\(held.output)")
            #expect(held.stdout.contains("held"))
            #expect(try await fixture.contents() == before)
            #expect(try fixture.lethe(["hold", "remove", holdId]).exitCode == 0)
            #expect(try fixture.lethe(["hold", "remove", holdId]).exitCode == 65)
            let done = try fixture.lethe(["erase", "--user", "alice-0001"])
            #expect(done.exitCode == 0, "\(done.output)")
        }
    }

    @Test("over --max-documents the request waits (exit 75); approve runs it")
    func approval() async throws {
        try await CLIFixture.make().use { fixture in
            let waiting = try fixture.lethe(["erase", "--user", "alice-0001", "--max-documents", "2"])
            #expect(waiting.exitCode == 75, "\(waiting.output)")
            #expect(waiting.stdout.contains("needs-approval"))
            let id = try #require(waiting.stdout.split(separator: " ").dropFirst().first.map { String($0.dropLast()) })
            #expect(try await fixture.database.collection("Item").countDocuments() == 4)
            let approved = try fixture.lethe(["approve", id])
            #expect(approved.exitCode == 0, "\(approved.output)")
            #expect(try await fixture.database.collection("Item").countDocuments() == 1)
        }
    }

    @Test("killed with SIGKILL mid-erasure, then run again: the rerun takes over the dead process's lease at once and ends with the same data as an uninterrupted run", arguments: [150, 400, 900])
    func sigkill(afterMilliseconds: Int) async throws {
        try await CLIFixture.make(items: 3000).use { reference in
            #expect(try reference.lethe(["erase", "--user", "alice-0001", "--batch-size", "200"]).exitCode == 0)
            let expected = try await reference.contents()

            try await CLIFixture.make(items: 3000).use { fixture in
                let process = Process()
                process.executableURL = LetheExecutable.url
                process.arguments = ["erase", "--user", "alice-0001", "--batch-size", "200",
                                     "--policies", fixture.policies.path, "--state-db", fixture.stateDatabase]
                var environment = ProcessInfo.processInfo.environment
                environment["LETHE_MONGODB_URI"] = TestServer.uri!
                environment["LETHE_HASH_KEY"] = hashKeyHex
                process.environment = environment
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                try await Task.sleep(for: .milliseconds(afterMilliseconds))
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()

                let rerun = try fixture.lethe(["erase", "--user", "alice-0001", "--batch-size", "200"])
                #expect(rerun.exitCode == 0, "\(rerun.output)")
                #expect(!rerun.stdout.contains("another worker"), "a gone process's lease is not waited out: \(rerun.output)")
                #expect(try await fixture.contents() == expected)
                let again = try fixture.lethe(["erase", "--user", "alice-0001"])
                #expect(again.exitCode == 0)
                #expect(try await fixture.contents() == expected)
            }
        }
    }
}
