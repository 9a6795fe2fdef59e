/// How a rule verified, as a receipt states it.
public enum Verification: String, Sendable, Hashable, Codable {
    /// Nothing the rule must change is left.
    case passed
    /// Documents the rule must change are still there: `remaining` says how many.
    case failed
    /// A `retain` rule changes nothing, so there is nothing to verify.
    case notApplicable = "not-applicable"
    /// The request stopped before verification.
    case notRun = "not-run"
}

/// What a receipt certifies.
public enum Outcome: String, Sendable, Hashable, Codable {
    case completed, failed
}

/// Which sweep a `SweepReport` records.
public enum SweepKind: String, Sendable, Hashable, Codable {
    /// Age-based retention rules, and the `then` of retained documents now due.
    case retention
    /// Data of users found in no users collection.
    case orphans
    /// Data of erased users that a restored backup brought back (their tombstones).
    case restore
}
