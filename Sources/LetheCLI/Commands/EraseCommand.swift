import ArgumentParser
import Foundation
import LetheCore
import LetheService

struct EraseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "erase",
        abstract: "Erase a deleted user's data now, by the policies, and store a receipt.",
        discussion: """
            Records a request in the state database and carries it out. Run it again after \
            an interruption: the user's open request resumes where it stopped, and a finished \
            one changes nothing. LETHE_HASH_KEY is needed by policies that hash or pseudonymize.
            """
    )

    @OptionGroup var subject: SubjectOptions
    @Option(name: .long, help: ArgumentHelp("Why the data is erased (kept while the request is open, removed when it is done).", valueName: "text"))
    var reason: String?
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var engine: EngineOptions
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var actor: ActorOptions
    @OptionGroup var lease: LeaseOptions

    func run() async throws {
        let policies = try policyOptions.load(hashKeyConfigured: try PolicyOptions.hashKey() != nil)
        let code = try await withRuntime(connection: connection, policies: policies, engine: engine) { runtime in
            var request: ErasureRequest
            do {
                request = try await runtime.engine.admission.submit(subject.subject, source: .cli, reason: reason)
                // Asked again after a failure: the person retries it.
                if request.state == .failed { request = try await runtime.engine.admission.retry(requestId: request.id, actor: actor.name) }
            } catch let error as EngineError {
                printError("error: \(error)")
                throw LetheExit.invalidInput
            }
            return try await runNow(request, runtime: runtime, stateDatabase: engine.stateDb, lease: lease)
        }
        throw code
    }
}

/// Runs one request now under a lease, as the queue would, and says how it ended. A
/// request another worker holds is its alone: this waits for it to finish, or for its
/// lease to run out (a worker that died), for up to two lease durations.
func runNow(_ request: ErasureRequest, runtime: LetheRuntime, stateDatabase: String, lease: LeaseOptions) async throws -> ExitCode {
    let worker = QueueWorker(engine: runtime.engine, options: .init(leaseDuration: lease.duration))
    let deadline = Date().addingTimeInterval(2 * lease.duration.timeInterval)
    var announced = false
    while true {
        if let finished = try await worker.run(requestId: request.id) {
            return summarize(finished, stateDatabase: stateDatabase)
        }
        let current = try await runtime.state.request(id: request.id) ?? request
        guard current.state.isClaimable, let held = current.lease else { return summarize(current, stateDatabase: stateDatabase) }
        guard Date() < deadline else {
            print("request \(current.id) is still being erased by another worker (its lease runs until \(ISO8601DateFormatter().string(from: held.expiresAt))); "
                  + "`lethe receipt \(current.id)` once it is done")
            return LetheExit.waiting
        }
        if !announced {
            print("request \(current.id) is held by another worker's lease (until \(ISO8601DateFormatter().string(from: held.expiresAt))): waiting for it to finish or to run out")
            announced = true
        }
        try await Task.sleep(for: .milliseconds(500))
    }
}
