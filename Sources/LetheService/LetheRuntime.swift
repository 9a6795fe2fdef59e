import BSON
import Foundation
import LetheCore
import Logging
import MongoKit

/// Everything a command or the service needs, built from configuration in one place,
/// so that the CLI only parses flags and tests build the same thing.
public struct LetheConfiguration: Sendable {
    public var connectionString: ConnectionString
    public var policies: [Policy]
    /// Database of Lethe's own records. Default "lethe".
    public var stateDatabase: String
    /// From LETHE_HASH_KEY: for hash and pseudonymize. Default nil.
    public var hashKey: SecretKey?
    /// From LETHE_SUBJECT_KEY: for subject pseudonyms. Default nil (kept in the state database).
    public var subjectKey: SecretKey?
    public var engine: ErasureEngine.Options
    /// Clients in the pool. Default 4.
    public var poolSize: Int

    public init(connectionString: ConnectionString, policies: [Policy], stateDatabase: String = "lethe",
                hashKey: SecretKey? = nil, subjectKey: SecretKey? = nil,
                engine: ErasureEngine.Options = .init(), poolSize: Int = 4) {
        self.connectionString = connectionString
        self.policies = policies
        self.stateDatabase = stateDatabase
        self.hashKey = hashKey
        self.subjectKey = subjectKey
        self.engine = engine
        self.poolSize = poolSize
    }
}

/// A connected pool, the stores and the engine. Call `shutdown()` when done.
public struct LetheRuntime: Sendable {
    public let pool: MongoClientPool
    public let data: MongoDataStore
    public let state: MongoStateStore
    public let engine: ErasureEngine

    public init(pool: MongoClientPool, data: MongoDataStore, state: MongoStateStore, engine: ErasureEngine) {
        self.pool = pool
        self.data = data
        self.state = state
        self.engine = engine
    }

    public static func start(_ configuration: LetheConfiguration, logger: Logger = Logger(label: "lethe")) async throws -> LetheRuntime {
        let pool = try MongoClientPool(configuration.connectionString, options: .init(maximumSize: configuration.poolSize))
        let state = MongoStateStore(pool: pool, options: .init(database: configuration.stateDatabase, subjectKey: configuration.subjectKey))
        do {
            try await state.prepare()
            try await state.recordPolicies(configuration.policies.map { PolicyReference(name: $0.name, fingerprint: $0.fingerprint) }, at: Date())
        } catch {
            await pool.shutdown()
            throw error
        }
        let data = MongoDataStore(pool: pool, probingArraysIn: configuration.stateDatabase, logger: logger)
        let engine = ErasureEngine(
            data: data, state: state, policies: configuration.policies,
            anonymizer: configuration.hashKey.map(Anonymizer.init(key:)), options: configuration.engine, logger: logger
        )
        return LetheRuntime(pool: pool, data: data, state: state, engine: engine)
    }

    public func shutdown() async { await pool.shutdown() }
}
