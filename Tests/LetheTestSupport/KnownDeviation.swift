/// Every way the local test server (nx-27017 0.8.1) is known to differ from MongoDB,
/// in one list. A test that meets one skips only that assertion, only on nx-27017,
/// naming the case here; against a real server (`MONGODB_URI`) it asserts everything.
/// docs/test-server.md describes each, with the test that shows it.
public enum KnownDeviation: String, CaseIterable, Sendable {
    /// `$set` of a date in an update stores a string; range queries on it then fail.
    case setDateStoresString = "update $set of a date value stores a string"
    /// `countDocuments` with an ObjectId `_id` equality filter returns 0.
    case countByObjectIdReturnsZero = "countDocuments with an ObjectId _id equality returns 0"
    /// Pipeline-style updates (`[ {$set: ...} ]`) are rejected.
    case pipelineUpdatesRejected = "pipeline-style updates are rejected"
    /// Change-stream `fullDocument` renders ObjectIds in an internal shape.
    case changeStreamObjectIdShape = "change-stream fullDocument renders ObjectIds in an internal shape"

    /// True when this deviation applies to the server under test.
    public var applies: Bool { TestServer.isNX27017 }
}
