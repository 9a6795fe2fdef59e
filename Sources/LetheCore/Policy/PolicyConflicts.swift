import BSON

/// Rules that contradict each other, within one policy or across policies: two rules on
/// the same collection of the same database that match on a common field, one of which
/// retains what the other deletes, anonymizes or pulls. Run as they are, the documents
/// would be both changed and "retained", and the receipt would say both.
///
/// - Same `where` on both (or none on either): an error. Nothing separates the documents.
/// - Different `where`s: a warning. Whether they take disjoint documents cannot be
///   proven in general (`{status: a}` and `{archived: true}` may overlap), so the author
///   is asked to check it.
/// - Delete beside anonymize or pull (no retain): allowed. Either order leaves none of
///   the user's data; the policy's own overlap warning covers rules that see nothing.
///
/// Linear in the rules: they are grouped by database, collection and match field.
enum PolicyConflicts {
    struct RuleRef {
        let policy: Policy
        let policyIndex: Int
        let rule: ErasureRule

        var order: (Int, Int) { (policyIndex, rule.index) }
        var retains: Bool { if case .retain = rule.action { true } else { false } }
        var name: String { "\(policy.name) rules[\(rule.index)] (\(rule.location))" }
    }

    struct GroupKey: Hashable {
        let database: String
        let collection: String
        let field: String
    }

    struct Finding {
        /// The later rule of the two, where the diagnostic points.
        let at: RuleRef
        let other: RuleRef
        let field: String
        let separatedByWhere: Bool
    }

    /// Each conflicting pair once, found by grouping.
    static func findings(_ policies: [Policy]) -> [Finding] {
        var groups: [GroupKey: [RuleRef]] = [:]
        var order: [GroupKey] = []
        for (policyIndex, policy) in policies.enumerated() {
            for rule in policy.rules {
                for field in Set(rule.match) {
                    let key = GroupKey(database: policy.database, collection: rule.collection, field: field)
                    if groups[key] == nil { order.append(key) }
                    groups[key, default: []].append(RuleRef(policy: policy, policyIndex: policyIndex, rule: rule))
                }
            }
        }
        var findings: [Finding] = []
        var reported = Set<[Int]>()
        for key in order {
            for finding in conflicts(in: groups[key] ?? [], field: key.field) {
                let pair = [finding.at.policyIndex, finding.at.rule.index, finding.other.policyIndex, finding.other.rule.index]
                if reported.insert(pair).inserted { findings.append(finding) }
            }
        }
        return findings
    }

    /// In one group: per `where`, the first retain and the first changer; a retain and a
    /// changer under the same `where` are an error, under different ones a warning (once).
    static func conflicts(in group: [RuleRef], field: String) -> [Finding] {
        guard group.contains(where: \.retains), group.contains(where: { !$0.retains }) else { return [] }
        var firstRetain: [BSONDocument?: RuleRef] = [:]
        var firstChanger: [BSONDocument?: RuleRef] = [:]
        var findings: [Finding] = []
        for ref in group {
            let scope = ref.rule.scope
            let opposite = ref.retains ? firstChanger[scope] : firstRetain[scope]
            if let opposite { findings.append(Finding(at: ref, other: opposite, field: field, separatedByWhere: false)) }
            if ref.retains { firstRetain[scope] = firstRetain[scope] ?? ref } else { firstChanger[scope] = firstChanger[scope] ?? ref }
        }
        if findings.isEmpty {
            // Only different wheres separate them: one warning, at the later of the first pair.
            let retain = group.first(where: \.retains)!
            let changer = group.first(where: { !$0.retains })!
            let (later, earlier) = retain.order > changer.order ? (retain, changer) : (changer, retain)
            findings.append(Finding(at: later, other: earlier, field: field, separatedByWhere: true))
        }
        return findings
    }

    static func diagnostics(_ policies: [Policy]) -> [PolicyDiagnostic] {
        findings(policies).map { finding in
            let namespace = "\(finding.at.policy.database).\(finding.at.rule.collection)"
            let what = "this rule \(finding.at.rule.action.name)s the documents of \(namespace) matched on '\(finding.field)'"
                + " that \(finding.other.name) \(finding.other.rule.action.name)s"
            let location = finding.at.rule.location
            if finding.separatedByWhere {
                return PolicyDiagnostic(
                    severity: .warning, file: location.file, line: location.line, column: location.column,
                    keyPath: "rules[\(finding.at.rule.index)]",
                    message: what + ", under a different where; check that no document satisfies both",
                    expected: "wheres that no document satisfies together",
                    hint: "Lethe cannot prove two filters disjoint; make them exclusive, e.g. `{ status: closed }` and `{ status: { $ne: closed } }`")
            }
            return PolicyDiagnostic(
                severity: .error, file: location.file, line: location.line, column: location.column,
                keyPath: "rules[\(finding.at.rule.index)]",
                message: what + ": a document cannot be both retained and changed",
                expected: "either retain or change the same documents",
                hint: "remove one of the rules, or add a where to each that says which documents it takes")
        }
    }
}
