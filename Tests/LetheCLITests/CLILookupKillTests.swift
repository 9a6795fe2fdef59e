import BSON
import Foundation
import LetheCoreTestSupport
import LetheTestSupport
import MongoKit
import Testing

/// Issue 17's "kill -9 after the source documents were deleted": `lethe erase` on a
/// policy whose accounts are reached through the customer's `accounts` lookup is killed
/// with SIGKILL as soon as the customer (the lookup's source) is gone; the rerun must
/// finish from the values the request kept, with the data an uninterrupted run leaves.
@Suite("lethe erase with a lookup, killed (integration)", .enabled(if: TestServer.isConfigured, TestServer.skipReason))
struct CLILookupKillTests {
    static let policy = SamplePolicies.analytics
    static let ada = BSONObjectId(bytes: [0x65, 0x60, 0xf1, 0xc2] + [UInt8](repeating: 0, count: 7) + [1])!
    static let grace = BSONObjectId(bytes: [0x65, 0x60, 0xf1, 0xc2] + [UInt8](repeating: 0, count: 7) + [2])!
    /// Enough accounts that deleting them, `--batch-size 20` at a time (150 deletes),
    /// takes long enough for the kill to land in between, even with the whole suite
    /// running beside this test.
    static let adaAccounts = 3_000

    struct Fixture: TearsDown {
        let pool: MongoClientPool
        let database: MongoDatabase
        let policies: URL
        var stateDatabase: String { database.name + "_state" }

        static func make() async throws -> Fixture {
            let pool = try TestServer.pool()
            let database = pool.database(TestServer.uniqueDatabaseName("lkill"))
            let policies = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-policies-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: policies, withIntermediateDirectories: true)
            try CLILookupKillTests.policy.replacingOccurrences(of: "DATABASE", with: database.name)
                .write(to: policies.appendingPathComponent("analytics.yaml"), atomically: true, encoding: .utf8)
            let fixture = Fixture(pool: pool, database: database, policies: policies)
            let numbers = (0..<CLILookupKillTests.adaAccounts).map { BSON.int32(Int32(100_000 + $0)) }
            try await database.collection("customers").insertMany([
                ["_id": .objectId(CLILookupKillTests.ada), "username": "ada", "accounts": .array(numbers)],
                ["_id": .objectId(CLILookupKillTests.grace), "username": "grace", "accounts": [.int32(7)]],
            ])
            try await database.collection("accounts").insertMany(
                numbers.map { ["account_id": $0, "limit": .int32(9000)] } + [["account_id": .int32(7), "limit": .int32(1)]])
            try await database.collection("accounts").createIndex(["account_id": 1])
            try await database.collection("transactions").insertMany([
                ["account_id": numbers[0], "amount": .int32(3)], ["account_id": .int32(7), "amount": .int32(5)],
            ])
            return fixture
        }

        func erase(_ extra: [String] = []) throws -> LetheExecutable.Result {
            try LetheExecutable.run(arguments(extra), environment: environment)
        }

        func arguments(_ extra: [String] = []) -> [String] {
            ["erase", "--user", CLILookupKillTests.ada.hex, "--batch-size", "20", "--max-documents", "10000",
             "--policies", policies.path, "--state-db", stateDatabase] + extra
        }

        var environment: [String: String] { ["LETHE_MONGODB_URI": TestServer.uri!, "LETHE_HASH_KEY": String(repeating: "5a", count: 32)] }

        func contents() async throws -> [String] {
            try await database.contentsWithoutIds(of: ["customers", "accounts", "transactions"])
        }

        func tearDown() async {
            try? await database.drop()
            try? await pool.database(stateDatabase).drop()
            try? FileManager.default.removeItem(at: policies)
            await pool.shutdown()
        }
    }

    @Test("killed with SIGKILL right after the customer is deleted: the rerun deletes the accounts from the kept values, as an uninterrupted run does")
    func killedAfterSourceDeleted() async throws {
        try await Fixture.make().use { reference in
            let uninterrupted = try reference.erase()
            #expect(uninterrupted.exitCode == 0, "\(uninterrupted.output)")
            let expected = try await reference.contents()
            #expect(expected.filter { $0.hasPrefix("accounts ") }.count == 1, "only grace's account is left")

            try await Fixture.make().use { fixture in
                let process = Process()
                process.executableURL = LetheExecutable.url
                process.arguments = fixture.arguments()
                var environment = ProcessInfo.processInfo.environment
                environment.merge(fixture.environment) { $1 }
                process.environment = environment
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                // Kill as soon as the lookup's source is gone. Asked by `findOne`: a count by
                // an ObjectId `_id` is 0 on the test server whatever the data
                // (countByObjectIdReturnsZero), which once made this loop end at once.
                let customers = fixture.database.collection("customers")
                let deadline = Date().addingTimeInterval(60)
                while try await customers.findOne(["_id": .objectId(Self.ada)]) != nil, Date() < deadline, process.isRunning {
                    try await Task.sleep(for: .milliseconds(1))
                }
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                let accountsLeft = try await fixture.database.collection("accounts").find().toArray().count
                #expect(try await customers.findOne(["_id": .objectId(Self.ada)]) == nil, "killed after the customer was deleted")
                // The case the test is for: accounts were left to delete when it died.
                #expect(accountsLeft > 1, "the kill came after every account was deleted; nothing was left for the kept values")

                let rerun = try fixture.erase()
                #expect(rerun.exitCode == 0, "\(rerun.output)")
                #expect(try await fixture.contents() == expected)
                #expect(!rerun.output.contains(Self.ada.hex.dropFirst(8)), "no id in the output")
            }
        }
    }
}
