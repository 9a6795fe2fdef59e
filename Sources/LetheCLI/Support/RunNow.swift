import ArgumentParser
import Foundation
import LetheCore
import LetheService

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
