import Synchronization

/// Runs `probe` and waits for its answer for at most `bound`: nil when it did not answer
/// in time. The probe goes on in the background until it ends by itself (a libmongoc call
/// cannot be cut short), but the caller is not kept waiting: a health check stays a
/// health check when the database does not answer.
func answer<T: Sendable>(within bound: Duration, _ probe: @escaping @Sendable () async -> T) async -> T? {
    let claimed = Mutex(false)
    return await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
        let first: @Sendable (T?) -> Void = { value in
            let isFirst = claimed.withLock { done in
                defer { done = true }
                return !done
            }
            if isFirst { continuation.resume(returning: value) }
        }
        let probing = Task { first(await probe()) }
        Task {
            try? await Task.sleep(for: bound)
            first(nil)
            probing.cancel()
        }
    }
}
