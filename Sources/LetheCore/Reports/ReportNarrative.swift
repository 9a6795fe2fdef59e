/// The sentences the Markdown and HTML forms share, as plain text (each form escapes them).
enum ReportNarrative {
    static let privacyStatement = "This report holds no personal data: only request ids, counts, collection names, "
        + "policy names and fingerprints, and notes and reasons written by operators and policy authors. "
        + "Users are never named; each request's receipt (lethe receipt REQUEST_ID) holds its user's keyed pseudonym."

    static let requestsIntro = "Requests received in the period, by their state when the report was generated. "
        + "Refused events were turned away at intake (for example an id that is not a plain id) and never became requests."

    static let completionIntro = "Time from receipt to completion of the requests received in the period and completed. "
        + "The median is the middle value; the 95th percentile is the nearest-rank value at or below which 95% of the times lie."

    static let sweepsIntro = "Sweeps apply the policies' retention rules to everybody's documents by age; "
        + "a dry run only counts what it would remove."

    static let policiesIntro = "Each policy version is identified by its fingerprint, which changes whenever what the policy does changes. "
        + "Listed: every version in force at some time in the period, and every version a request of the period was recorded under."

    static func documentsIntro(_ documents: DocumentActivity) -> String {
        "What the \(documents.receipts) receipt(s) finished in the period did "
            + "(\(documents.completedReceipts) completed, \(documents.failedReceipts) failed), per collection. "
            + "Anonymized documents had the user's fields replaced; pulled from counts documents whose arrays no longer hold the user; "
            + "retained documents were kept on purpose, for the reason the policy states."
    }

    /// The figures a reader looks at first.
    static func keyFigures(_ report: ComplianceReport) -> [String] {
        let outcomes = report.outcomes
        let overdue = report.deadlines.filter { $0.status == .overdue }.count
        let late = report.deadlines.filter { $0.status == .completedLate }.count
        let soon = report.deadlines.filter { $0.status == .dueSoon }.count
        let namespaces = report.documents.namespaces
        var figures = [
            "\(outcomes.received) request(s) received: \(outcomes.completed) completed, \(outcomes.failed) failed, "
                + "\(outcomes.held) held, \(outcomes.awaitingApproval) awaiting approval, \(outcomes.open) open; "
                + "\(outcomes.refused) event(s) refused at intake; \(outcomes.failedAttempts) attempt(s) failed, "
                + "\(outcomes.failedVerifications) of them by verification (retried requests included).",
            "\(overdue) overdue now, \(late) completed late, \(soon) due within 7 days.",
        ]
        if let median = report.completion.median, let p95 = report.completion.p95, let max = report.completion.max {
            figures.append("Time to completion: median \(ReportText.humane(median)), "
                + "95th percentile \(ReportText.humane(p95)), maximum \(ReportText.humane(max)).")
        }
        figures.append("Documents: \(namespaces.reduce(0) { $0 + $1.deleted }) deleted, "
            + "\(namespaces.reduce(0) { $0 + $1.anonymized }) anonymized, \(namespaces.reduce(0) { $0 + $1.pulled }) pulled from, "
            + "\(namespaces.reduce(0) { $0 + $1.retained }) retained, in \(namespaces.count) collection(s).")
        let changed = report.policies.filter(\.changedInPeriod).count
        figures.append("\(report.sweeps.count) sweep(s); \(report.policies.count) policy version(s) listed, \(changed) first seen in the period.")
        return figures
    }
}
