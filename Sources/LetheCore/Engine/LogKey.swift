/// Logging metadata keys, in one place and prefixed. Values are request ids,
/// pseudonyms, counts and codes: never a raw id, an email or a document.
public enum LogKey {
    public static let request = "lethe.request"
    public static let subject = "lethe.subject"
    public static let hold = "lethe.hold"
    public static let state = "lethe.state"
    public static let reason = "lethe.reason"
    public static let attempt = "lethe.attempt"
    public static let policy = "lethe.policy"
    /// `database.collection`: names of Lethe's own collections, never data.
    public static let namespace = "lethe.namespace"
    /// A lease owner: host name, process id, nonce, boot id.
    public static let worker = "lethe.worker"
    public static let retryIn = "lethe.retry-in"
    /// A refusal code.
    public static let code = "lethe.code"
    /// Whether the server's `$in` matches inside arrays (the data store's probe).
    public static let inMatchesArrays = "lethe.in-matches-arrays"
    /// Counts.
    public static let requests = "lethe.requests"
    public static let done = "lethe.done"
    public static let arrivals = "lethe.arrivals"
    public static let new = "lethe.new"
    public static let documents = "lethe.documents"
    public static let orphans = "lethe.orphans"
    public static let requested = "lethe.requested"
}
