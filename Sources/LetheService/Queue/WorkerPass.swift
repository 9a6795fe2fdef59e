import LetheCore

/// One pass of the worker, the same for `lethe run --once` and for each poll of
/// `lethe serve`: take in the inbox, then drain the request queue.
///
/// An inbox that holds no events (`InboxError`) is left as it is and reported in the
/// summary; it does not stop the queue, which may still have work.
public struct WorkerPass: Sendable {
    public let worker: QueueWorker
    /// The inbox to take in first; nil for none.
    public let inbox: InboxConsumer?
    /// Batches erased at once, each by its own lane with its own lease owner. Default 1.
    public let lanes: Int

    public init(worker: QueueWorker, inbox: InboxConsumer?, lanes: Int = 1) {
        self.worker = worker
        self.inbox = inbox
        self.lanes = max(lanes, 1)
    }

    /// Runs the pass. `shouldStop` is asked between batches (serve's graceful shutdown).
    public func run(shouldStop: @escaping @Sendable () -> Bool = { false }) async throws -> PassSummary {
        var summary = PassSummary()
        if let inbox {
            do { summary.intake = try await inbox.drain() } catch let error as InboxError { summary.inboxError = error }
        }
        summary.queue = try await worker.drain(lanes: lanes, shouldStop: shouldStop)
        summary.queue.leasedElsewhere = try await worker.leasedElsewhere()
        return summary
    }
}

/// What one `WorkerPass` did.
public struct PassSummary: Sendable {
    /// The inbox's events, by outcome.
    public var intake = IntakeCounts()
    /// Why the inbox was not taken in, when it was not. The queue was drained all the same.
    public var inboxError: InboxError?
    /// The queue's requests, by the state each was left in.
    public var queue = QueueWorker.Summary()

    public init() {}
}
