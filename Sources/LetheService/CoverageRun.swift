import Foundation
import LetheCore
import MongoKit

/// `lethe coverage` against a server: a pool of its own, without the state database
/// (the report writes nothing, not even Lethe's own indexes), shut down afterwards.
public enum CoverageRun {
    public static func run(connectionString: ConnectionString, policies: [Policy], options: CoverageScanner.Options,
                           progress: @Sendable (CoverageReport.Collection) -> Void = { _ in }) async throws -> CoverageReport {
        let pool = try MongoClientPool(connectionString, options: .init(maximumSize: 2))
        let data = MongoDataStore(pool: pool)
        do {
            let report = try await CoverageScanner(policies: policies, data: data, sampler: data, options: options).scan(progress: progress)
            await pool.shutdown()
            return report
        } catch {
            await pool.shutdown()
            throw error
        }
    }
}
