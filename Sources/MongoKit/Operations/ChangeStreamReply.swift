import BSON

/// What a change stream reader's wait ends with, and so what its `next()` does
/// (`ChangeStreamStateMachine.Reply`).
enum ChangeStreamReply: Sendable, Equatable {
    /// Returns this event.
    case event(BSONDocument)
    /// Pauses, then waits again.
    case waitAgain
    /// Returns nil: the stream is closed.
    case end
    /// Throws `MongoError.poolClosed`: the pool's shutdown closed the stream.
    case shutDown
    /// Throws: another reader holds the stream.
    case busy
    /// Throws `CancellationError`.
    case cancelled
    /// Throws the getMore's error.
    case failed(MongoError)
}
