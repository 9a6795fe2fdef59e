import Foundation
import MongoKit
import Testing

/// The server the integration tests use: `MONGODB_URI`, as `scripts/test.sh` sets it
/// (it starts the local nx-27017 server when the variable is unset).
public enum TestServer {
    public static let uri: String? = {
        let value = ProcessInfo.processInfo.environment["MONGODB_URI"] ?? ""
        return value.isEmpty ? nil : value
    }()

    /// Integration tests are enabled when a server is configured.
    public static var isConfigured: Bool { uri != nil }

    public static let skipReason: Comment = "MONGODB_URI is not set: run scripts/test.sh, which starts a local server"

    /// True when the server is nx-27017 (set by scripts/test.sh), so that known
    /// deviations can be skipped by name, and only there.
    public static let isNX27017: Bool = ProcessInfo.processInfo.environment["LETHE_TEST_SERVER"] == "nx-27017"

    /// Whether the server offers change streams: a replica set member or a mongos does,
    /// a standalone server does not. nx-27017 answers `hello` like a standalone server
    /// but offers them (`KnownDeviation.changeStreamsNeverRefused`).
    public static func offersChangeStreams(_ pool: MongoClientPool) async throws -> Bool {
        if KnownDeviation.changeStreamsNeverRefused.applies { return true }
        let hello = try await pool.hello()
        return hello["setName"] != nil || hello["msg"] == "isdbgrid"
    }

    /// A new pool on the test server.
    public static func pool(maximumSize: Int = 4) throws -> MongoClientPool {
        guard let uri else { fatalError("integration test ran without MONGODB_URI") }
        return try MongoClientPool(uri: uri, options: .init(maximumSize: maximumSize, appName: "lethe-tests"))
    }

    /// A database name no other test uses, so tests can run in parallel.
    public static func uniqueDatabaseName(_ prefix: String = "t") -> String {
        "\(prefix)_\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Runs `body` with a pool and a fresh database, then drops it and shuts the pool down.
    public static func withDatabase<T>(
        _ prefix: String = "t", maximumSize: Int = 4,
        _ body: (MongoDatabase) async throws -> T
    ) async throws -> T {
        let pool = try pool(maximumSize: maximumSize)
        let database = pool.database(uniqueDatabaseName(prefix))
        do {
            let result = try await body(database)
            try? await database.drop()
            await pool.shutdown()
            return result
        } catch {
            try? await database.drop()
            await pool.shutdown()
            throw error
        }
    }
}
