/// A test's own resources on the server (databases, a client pool), released by
/// `tearDown()`.
public protocol TearsDown: Sendable {
    func tearDown() async
}

extension TearsDown {
    /// Runs `body` with this fixture, then awaits `tearDown()` whether `body` returned or
    /// threw. Awaited rather than left to a `Task`: a teardown still running when the test
    /// process exits races the process's exit handlers (libcrypto's among them), which
    /// crashed a test run after every test had passed.
    public func use<T>(_ body: (Self) async throws -> T) async throws -> T {
        let result: T
        do {
            result = try await body(self)
        } catch {
            await tearDown()
            throw error
        }
        await tearDown()
        return result
    }
}
