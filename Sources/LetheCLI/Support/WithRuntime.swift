import ArgumentParser
import Foundation
import LetheCore
import LetheService

/// Builds the runtime, runs `body`, shuts down, and turns errors into messages and
/// exit codes. `extraClients`: pooled clients `body` holds for itself (serve's change
/// streams), added to the pool so that they take none from the work. `inbox`: the
/// inbox the body reads, checked against the policies with the state database.
func withRuntime<T>(
    connection: ConnectionOptions, policies: [Policy], state: StateOptions,
    erasure: ErasureEngine.Options = .init(), inbox: InboxOptions.Namespace? = nil, extraClients: Int = 0,
    _ body: (LetheRuntime) async throws -> T
) async throws -> T {
    try state.check(against: policies, inbox: inbox)
    var configuration: LetheConfiguration
    do {
        configuration = LetheConfiguration(
            connectionString: try connection.connectionString(), policies: policies, stateDatabase: state.stateDb,
            hashKey: try PolicyOptions.hashKey(),
            subjectKey: try ProcessInfo.processInfo.environment["LETHE_SUBJECT_KEY"].flatMap { $0.isEmpty ? nil : try SecretKey(text: $0) },
            engine: erasure
        )
        configuration.poolSize += extraClients
    } catch let exit as ExitCode {
        throw exit
    } catch {
        throw report(error)
    }
    let runtime = try await start(configuration)
    // One shutdown after the body, whatever its outcome.
    let outcome = await Result { try await body(runtime) }
    await runtime.shutdown()
    switch outcome {
    case .success(let value): return value
    case .failure(let exit as ExitCode): throw exit
    case .failure(let error): throw report(error)
    }
}

private func start(_ configuration: LetheConfiguration) async throws -> LetheRuntime {
    do { return try await LetheRuntime.start(configuration) } catch { throw report(error) }
}
