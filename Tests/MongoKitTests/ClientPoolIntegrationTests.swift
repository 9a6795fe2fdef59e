import BSON
import LetheTestSupport
@testable import MongoKit
import Testing

/// True once `condition` holds, false if it still does not after `limit` (a guard
/// against hanging, not a measure of speed).
private func becomes(_ condition: @escaping @Sendable () -> Bool, within limit: Duration = .seconds(30)) async throws -> Bool {
    let deadline = ContinuousClock.now + limit
    while !condition() {
        if ContinuousClock.now >= deadline { return false }
        try await Task.sleep(for: .milliseconds(10))
    }
    return true
}

/// How `task` ended, or nil if it had not after `limit` (a guard against hanging, not a
/// measure of speed). Unlike `finishes`, it does not wait for a task that cannot be
/// cancelled: a caller stuck in the queue must fail the test, not hang it.
private func outcome<T: Sendable>(of task: Task<T, any Error>, within limit: Duration = .seconds(30)) async -> Result<T, any Error>? {
    let (results, continuation) = AsyncStream.makeStream(of: Result<T, any Error>.self)
    Task { continuation.yield(await task.result) }
    let timer = Task {
        try? await Task.sleep(for: limit)
        continuation.finish()
    }
    defer { timer.cancel() }
    for await result in results { return result }
    return nil
}

@Suite("Client pool (integration)", .enabled(if: TestServer.isConfigured, TestServer.skipReason))
struct ClientPoolIntegrationTests {
    @Test("a caller waiting for a client stops when cancelled, with CancellationError; the client released later goes to the next caller")
    func cancelledWaiter() async throws {
        try await TestServer.withDatabase("pool", maximumSize: 1) { db in
            let pool = db.pool
            let collection = db.collection("c")
            let holder = try await pool.lease(operation: "hold")
            // Released on every path: a failed expectation must not leave shutdown waiting.
            defer { holder.release() }
            let waiter = Task { try await collection.countDocuments() }
            // Cancelled once it waits in the queue: the path under test.
            #expect(try await becomes { pool.waitingForClient == 1 }, "the caller never queued")
            waiter.cancel()
            // The one client is still held: only the cancellation can end this wait.
            let result = try #require(await outcome(of: waiter), "the cancelled caller still waited while the client was held")
            #expect(throws: CancellationError.self) { try result.get() }
            #expect(pool.waitingForClient == 0, "the cancelled caller left the queue")

            holder.release()
            // One client: this completes only if the release did not hand it to the
            // cancelled caller, where it would be lost.
            let next = try #require(await outcome(of: Task { try await collection.countDocuments() }), "the released client is not free")
            #expect(try next.get() == 0)
        }
    }

    @Test("a caller already cancelled when every client is out is refused, not queued")
    func cancelledBeforeWaiting() async throws {
        try await TestServer.withDatabase("pool", maximumSize: 1) { db in
            let pool = db.pool
            let holder = try await pool.lease(operation: "hold")
            defer { holder.release() }
            let caller = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return try await db.collection("c").countDocuments()
            }
            let result = try #require(await outcome(of: caller), "the cancelled caller was queued instead of refused")
            #expect(throws: CancellationError.self) { try result.get() }
            #expect(pool.waitingForClient == 0)
            holder.release()
            let next = try #require(await outcome(of: Task { try await db.collection("c").countDocuments() }), "the released client is not free")
            #expect(try next.get() == 0)
        }
    }
}
