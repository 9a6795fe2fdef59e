import BSON

/// What `validate --check-db` says of one path a rule or lookup reads: what a sample
/// of its collection holds there, and whether that can work. A path no document has
/// is an error (the rule would match nothing and say so only as "0 matched"); a path
/// that ends at sub-documents, or holds values of another type than the ids bound to
/// it, is a warning. A date a cut-off is compared with (a retention rule's `field`, a
/// `retain` rule's `until.field`) that holds anything but dates is a warning: those
/// documents are never due. Names, counts and type names only.
public struct PathFinding: Sendable, Hashable, CustomStringConvertible {
    public enum Level: String, Sendable, Hashable, Comparable {
        case error, warning, ok
        public static func < (a: Level, b: Level) -> Bool { a.rank < b.rank }
        private var rank: Int { switch self { case .error: 0; case .warning: 1; case .ok: 2 } }
    }

    public let level: Level
    public let policy: String
    /// Where the rule or lookup is written.
    public let location: SourceLocation
    /// `rules[2]` or `lookups.posts`, with the role of the path (`match`, `field`).
    public let owner: String
    public let namespace: String
    public let path: String
    public let message: String

    public var description: String {
        "\(location): \(level.rawValue): \(policy) \(owner) \(namespace) '\(path)': \(message)"
    }
}

/// Samples each collection a policy's rules and lookups read and surveys their paths.
/// Reads only.
public struct PolicyPathCheck: Sendable {
    let data: any DataStore
    let sampler: any DataSampler
    /// Documents sampled per collection. Default 1,000.
    let sampleSize: Int

    public init(data: any DataStore, sampler: any DataSampler, sampleSize: Int = 1_000) {
        self.data = data
        self.sampler = sampler
        self.sampleSize = max(1, min(sampleSize, CoverageScanner.Options.maximumSample))
    }

    /// One path to survey, and what its values should be.
    struct Target {
        let policy: Policy
        let location: SourceLocation
        let owner: String
        let collection: String
        let path: String
        /// The BSON type names a value must have to match, or nil when any may
        /// (lookup values keep their stored type; `idType: any`).
        let expectedTypes: Set<String>?
        /// A date compared with a cut-off, not a match.
        var isDate = false
    }

    public func run(_ policies: [Policy]) async throws -> [PathFinding] {
        var samples: [Namespace: [BSONDocument]] = [:]
        var findings: [PathFinding] = []
        for target in policies.flatMap(Self.targets) {
            let namespace = Namespace(database: target.policy.database, collection: target.collection)
            if samples[namespace] == nil { samples[namespace] = try await sampler.sample(namespace, size: sampleSize) }
            let sample = samples[namespace]!
            guard !sample.isEmpty else { continue }  // an empty or missing collection: RuleDatabaseCheck says so
            let survey = PathSurvey(path: target.path, documents: sample)
            let existsOutsideSample = survey.holding == 0
                ? try await data.first(namespace, filter: [target.path: ["$exists": true]], sort: [:], projection: ["_id": 1]) != nil
                : true
            findings.append(Self.finding(for: target, namespace: namespace, survey: survey, existsOutsideSample: existsOutsideSample))
        }
        return findings
    }

    /// Every path the policy's erasure rules match on and its lookups read, and every
    /// date its retention compares with a cut-off.
    static func targets(of policy: Policy) -> [Target] {
        let lookupNames = Set(policy.lookups.map(\.name))
        func expected(_ using: [String]) -> Set<String>? {
            var types = Set<String>()
            for source in using {
                if lookupNames.contains(source) { return nil }
                if source == MatchSource.user {
                    switch policy.subject.idType {
                    case .string: types.insert("string")
                    case .objectId: types.insert("objectId")
                    case .uuid: types.insert("binData")
                    case .any: return nil
                    }
                } else {
                    types.insert("string")  // identifiers arrive as plain strings
                }
            }
            return types
        }
        var targets: [Target] = []
        for rule in policy.rules {
            for path in rule.match {
                targets.append(Target(policy: policy, location: rule.location, owner: "rules[\(rule.index)] match",
                                      collection: rule.collection, path: path, expectedTypes: expected(rule.using)))
            }
        }
        for lookup in policy.lookups {
            for path in lookup.match {
                targets.append(Target(policy: policy, location: lookup.location, owner: "lookups.\(lookup.name) match",
                                      collection: lookup.collection, path: path, expectedTypes: expected(lookup.using)))
            }
            targets.append(Target(policy: policy, location: lookup.location, owner: "lookups.\(lookup.name) field",
                                  collection: lookup.collection, path: lookup.field, expectedTypes: nil))
        }
        for rule in policy.rules {
            guard case .retain(let retention) = rule.action, let until = retention.until else { continue }
            targets.append(Target(policy: policy, location: rule.location, owner: "rules[\(rule.index)] until.field",
                                  collection: rule.collection, path: until.field, expectedTypes: ["date"], isDate: true))
        }
        for rule in policy.retention {
            targets.append(Target(policy: policy, location: rule.location, owner: "retention[\(rule.index)] field",
                                  collection: rule.collection, path: rule.field, expectedTypes: ["date"], isDate: true))
        }
        return targets
    }

    static func finding(for target: Target, namespace: Namespace, survey: PathSurvey, existsOutsideSample: Bool) -> PathFinding {
        func make(_ level: PathFinding.Level, _ message: String) -> PathFinding {
            PathFinding(level: level, policy: target.policy.name, location: target.location, owner: target.owner,
                        namespace: namespace.description, path: target.path, message: message)
        }
        let sampled = "\(survey.sampled) sampled document(s)"
        guard survey.holding > 0 else {
            if existsOutsideSample {
                return make(.warning, "none of \(sampled) has it, though some document does: it is rare here; check that it is the field the app writes")
            }
            let nothing = target.isDate ? "no document is ever due. " : "it matches nothing. "
            return make(.error, "no document has this path, so " + nothing + whyMissing(survey, target: target))
        }
        if target.isDate { return dateFinding(survey, sampled: sampled, make: make) }
        let onlyDocuments = survey.documents == survey.holding && survey.scalars == 0 && survey.arraysOfValues == 0
        if onlyDocuments {
            let keys = survey.documentKeys.sorted().prefix(8).map { "\(target.path).\($0)" }
            return make(.error, "it holds sub-documents in \(survey.documents) of \(sampled); an id never equals a document: "
                + "match the field inside that holds the id" + (keys.isEmpty ? "" : " (one of \(keys.joined(separator: ", ")))"))
        }
        if let expected = target.expectedTypes {
            let matching = survey.valueTypes.filter { expected.contains($0.key) }.values.reduce(0, +)
            let total = survey.valueTypes.values.reduce(0, +)
            if total > 0, matching == 0 {
                return make(.warning, "it holds \(survey.shapeDescription) (in \(survey.holding) of \(sampled)), but the values bound to it are "
                    + "\(expected.sorted().joined(separator: " or ")): none of these matches; check subject.idType or `using`")
            }
        }
        var message = "holds \(survey.shapeDescription) (of \(sampled), \(survey.holding) have it)"
        if survey.throughArraysOfDocuments > 0 {
            message += "; a match selects array elements: pull removes them, anonymize changes only them"
        }
        return make(.ok, message)
    }

    /// A date compared with a cut-off: MongoDB compares a date only with dates (BSON
    /// comparison order), so a document holding text or a number there is never due:
    /// never swept, or retained for ever.
    static func dateFinding(_ survey: PathSurvey, sampled: String, make: (PathFinding.Level, String) -> PathFinding) -> PathFinding {
        let total = survey.valueTypes.values.reduce(0, +)
        let dates = survey.valueTypes["date"] ?? 0
        let others = survey.valueTypes.filter { $0.key != "date" }
            .sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.key) \($0.value)" }
        guard dates < total || total == 0 else { return make(.ok, "holds \(survey.shapeDescription) (of \(sampled), \(survey.holding) have it)") }
        let which = dates == 0 ? "none of its values is a date" : "\(total - dates) of its \(total) values are not dates"
        return make(.warning, "\(which) (\(others.isEmpty ? "sub-documents" : others.joined(separator: ", ")), in \(sampled)): "
            + "the cut-off is a date, and MongoDB compares dates only with dates, so those documents are never due; "
            + "have the app store a date (BSON date, `new Date()`), not text or a number")
    }

    /// Why a path no document has is missing: a prefix holding ids rather than
    /// documents (a cascade written as a path), or a misspelt last step.
    static func whyMissing(_ survey: PathSurvey, target: Target) -> String {
        if let (blocked, count) = survey.blockedAt.max(by: { ($0.value, $1.key.prefix) < ($1.value, $0.key.prefix) }) {
            let holds = blocked.holds == "array" ? "arrays of values" : "\(blocked.holds) values"
            return "'\(blocked.prefix)' holds \(holds) (in \(count) of \(survey.sampled) sampled), not documents: "
                + "to reach the documents it links to, read them with a lookup and match with `using` "
                + "(lookups: { name: { collection: …, match: …, field: _id } }; see docs/policies.md, Lookups)"
        }
        let steps = target.path.split(separator: ".")
        let last = String(steps.last ?? "")
        let parent = steps.dropLast().joined(separator: ".")
        if let hint = DidYouMean.suggestion(for: last, in: survey.siblingKeys.sorted()) {
            return "Did you mean '\(parent.isEmpty ? hint : parent + "." + hint)'?"
        }
        return "Check the field's name and that the app writes it."
    }
}
