/// The notes a request carries while it waits or after it failed: each written here
/// once, for the receipt, `lethe requests` and the audit trail alike. None holds
/// personal data (a hold's reason is an operator's free text: it stays with the hold).
public enum RequestNotes {
    public static func held(by holdId: String?) -> String {
        "waiting: legal hold \(holdId ?? "") covers this user; nothing was changed (`lethe hold list` shows why)"
    }

    public static func waitingForApproval(requestId: String, documents: Int, limit: Int) -> String {
        "waiting for approval: it would change \(documents) documents, more than the limit of \(limit); run `lethe approve \(requestId)` to let it run"
    }

    public static func lookupOverBound(requestId: String, policy: String, lookup: String, limit: Int) -> String {
        "waiting for approval: lookup '\(lookup)' of policy \(policy) found more than \(limit) values (maxLookupValues); "
            + "check the lookup, then run `lethe approve \(requestId)` to let it run"
    }

    public static func stoppedByError(_ error: any Error) -> String {
        "stopped by an error, progress kept (run it again to resume): \(error)"
    }

    public static func policiesChanged(_ request: ErasureRequest) -> String {
        "the policies changed since this request was recorded (\(request.policies.map(\.fingerprint).joined(separator: ", "))); run it again with the policies it was recorded under, or retry it to plan anew"
    }

    /// `limit`: leftovers are looked for up to this many per rule, so a count at the
    /// limit means "at least".
    public static func verificationFailed(_ rules: [RuleProgress], limit: Int) -> String {
        "verification failed: " + rules.map {
            let left = $0.remaining ?? 0
            return "\(left)\(left >= limit ? "+" : "") document(s) still match rule #\($0.ruleIndex + 1) (\($0.action.rawValue)) of policy \($0.policy) on \($0.namespace)"
        }.joined(separator: "; ")
    }
}
