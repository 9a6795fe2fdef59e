import BSON
import Foundation
import Yams

/// Turns the text of one policy file into a `Policy`, or into diagnostics.
///
/// It never stops at the first problem: every key is checked, so that one run shows
/// everything to fix. A policy is returned only when no error was found.
///
/// The parser's files are the project's exception to its bound of about 400 lines a
/// type: they are mostly tables (keys, operators, messages, hints), read best whole.
struct PolicyParser {
    let file: String
    let options: PolicyLoader.Options
    var diagnostics: [PolicyDiagnostic] = []
    /// The `name` and where it is written, when readable even if the file has other
    /// errors, so that duplicate names across files are still reported.
    var declaredName: (name: String, location: SourceLocation)?
    /// Every `using` read so far, checked once identifiers and lookups are all known.
    var usingReferences: [UsingReference] = []

    init(file: String, options: PolicyLoader.Options) {
        self.file = file
        self.options = options
    }

    var errorCount: Int { diagnostics.count { $0.severity == .error } }

    mutating func parse(_ text: String) -> Policy? {
        // A byte-order mark (from some Windows editors) is not content.
        let yaml = text.unicodeScalars.first == "\u{FEFF}" ? String(text.unicodeScalars.dropFirst()) : text
        guard checkSizeBeforeComposing(yaml) else { return nil }
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            reportYAMLError(error, in: yaml)
            return nil
        }
        guard let root else {
            diagnose(
                .error, at: (1, 1), "", "empty policy file",
                expected: "a mapping with version, name, database and rules",
                hint: "start from the example in policies/todo-app.yaml")
            return nil
        }
        guard checkExpandedSize(root) else { return nil }
        return parsePolicy(root)
    }

    /// The file's size, and no alias in a key (see `PolicyLimits.firstAliasInKey`).
    private mutating func checkSizeBeforeComposing(_ yaml: String) -> Bool {
        if yaml.utf8.count > PolicyLimits.maximumFileBytes {
            diagnose(
                .error, at: (1, 1), "", "the policy file is larger than \(PolicyLimits.maximumFileBytes) bytes",
                expected: "a policy of at most \(PolicyLimits.maximumFileBytes) bytes",
                hint: "split it into several policies (one file each), or check that this is a policy file")
            return false
        }
        if let place = PolicyLimits.firstAliasInKey(in: yaml) {
            diagnose(
                .error, at: place, "", "a YAML alias inside a mapping key",
                expected: "keys written out as plain text",
                hint: "write the key itself; aliases are accepted as values only")
            return false
        }
        return true
    }

    /// The size of the policy with every alias counted as what it stands for.
    private mutating func checkExpandedSize(_ root: Node) -> Bool {
        let measure = PolicyLimits.measure(root)
        guard let (mark, problem) = measure.overLimit else { return true }
        let position = mark.map { ($0.line, $0.column) } ?? (1, 1)
        switch problem {
        case .tooManyNodes:
            diagnose(
                .error, at: position, "", "the policy is too large: more than \(PolicyLimits.maximumNodes) YAML values "
                    + "once its aliases are expanded (the limit was passed here)",
                expected: "at most \(PolicyLimits.maximumNodes) values, aliases counted as what they stand for",
                hint: "write the values out, or split the policy; aliases that nest aliases multiply the values")
        case .collectionTooLong(let count):
            diagnose(
                .error, at: position, "", "a list or mapping of \(count) entries",
                expected: "at most \(PolicyLimits.maximumCollectionCount) entries in one list or mapping",
                hint: "a where with that many values is better written as a field condition, e.g. `archived: true`")
        }
        return false
    }

    // MARK: - The policy

    private mutating func parsePolicy(_ root: Node) -> Policy? {
        guard case .mapping = root else {
            error(
                root, "", "wrong type: the file holds \(describe(root))",
                expected: "a mapping with version, name, database and rules",
                hint: "start from the example in policies/todo-app.yaml")
            return nil
        }
        guard let top = fields(root, "", allowed: PolicyKey.topLevel, misplaced: PolicyKey.misplacedAtTop) else {
            return nil
        }
        checkVersion(top)
        let name = parseName(top)
        let database = parseDatabase(top)
        let description = top["description"].flatMap { string($0.value, "description") }
        let subject = top["subject"].map { parseSubject($0.value) } ?? SubjectSpec()
        let deadline = top["deadline"].flatMap { duration($0.value, "deadline") }
        let maxDocuments = parseMaxDocuments(top)
        var lookups = top["lookups"].map { parseLookups($0.value) } ?? []
        let maxLookupValues = parseMaxLookupValues(top)
        let rules = parseRules(top)
        lookups = checkSources(identifiers: subject.identifiers, lookups: lookups)
        var retention: [RetentionRule] = []
        if let entry = top["retention"], let items = list(entry.value, "retention"), withinRuleLimit(items, entry, "retention") {
            for (index, item) in items.enumerated() {
                if let rule = parseRetentionRule(item, index: index) { retention.append(rule) }
            }
        }
        let users = top["users"].flatMap { parseUsers($0.value, subject: subject) }
        let tombstones = top["tombstones"].flatMap { parseTombstones($0.value) }

        guard errorCount == 0, let name, let database else { return nil }
        return Policy(
            version: Policy.currentVersion, name: name, database: database, description: description,
            subject: subject, deadline: deadline, maxDocumentsPerRequest: maxDocuments, lookups: lookups,
            maxLookupValues: maxLookupValues, rules: rules,
            retention: retention, users: users, tombstones: tombstones, sourceFile: file)
    }

    private mutating func checkVersion(_ top: Fields) {
        guard let entry = required(top, "version"), let version = integer(entry.value, "version"), version != Policy.currentVersion else { return }
        error(
            entry.value, "version", "unsupported version \(version)", expected: "1",
            hint: "this Lethe reads version 1 policies; write `version: 1`, or use the Lethe the file was written for"
        )
    }

    private mutating func parseName(_ top: Fields) -> String? {
        guard let entry = required(top, "name"), let text = string(entry.value, "name") else { return nil }
        guard Self.isValidPolicyName(text) else {
            error(
                entry.value, "name", "invalid policy name '\(text)'",
                expected: "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
                hint: "the name appears in receipts and reports, e.g. `name: todo-app`")
            return nil
        }
        declaredName = (text, location(entry.value))
        return text
    }

    private mutating func parseDatabase(_ top: Fields) -> String? {
        guard let entry = required(top, "database"), let text = string(entry.value, "database") else { return nil }
        if let problem = Self.databaseNameProblem(text) {
            error(
                entry.value, "database", "invalid database name '\(text)': \(problem)",
                expected: "a MongoDB database name",
                hint: "write the name as `show dbs` lists it, e.g. `database: todo`")
            return nil
        }
        return text
    }

    private mutating func parseMaxDocuments(_ top: Fields) -> Int? {
        guard let entry = top["maxDocumentsPerRequest"], let value = integer(entry.value, "maxDocumentsPerRequest") else { return nil }
        guard value >= 1 else {
            error(
                entry.value, "maxDocumentsPerRequest", "maxDocumentsPerRequest must be at least 1, not \(value)",
                expected: PolicyKey.named("maxDocumentsPerRequest").expected,
                hint: "it is a guard rail: requests that would change more documents wait for approval; "
                    + "leave it out for the default of \(Policy.defaultMaxDocumentsPerRequest)")
            return nil
        }
        return value
    }

    private mutating func parseRules(_ top: Fields) -> [ErasureRule] {
        guard let entry = required(top, "rules"), let items = list(entry.value, "rules"), withinRuleLimit(items, entry, "rules") else { return [] }
        if items.isEmpty {
            warning(
                entry.value, "rules", "no rules: this policy erases nothing for a user",
                expected: "at least one rule",
                hint: "add a rule, e.g. `- { collection: Item, match: owner_id, action: delete }`")
        }
        var rules: [ErasureRule] = []
        for (index, item) in items.enumerated() {
            if let rule = parseRule(item, index: index) { rules.append(rule) }
        }
        warnAboutOverlappingRules(rules)
        return rules
    }

    /// At most `PolicyLimits.maximumRules` entries in `rules` (or `retention`).
    private mutating func withinRuleLimit(_ items: [Node], _ entry: Entry, _ key: String) -> Bool {
        guard items.count > PolicyLimits.maximumRules else { return true }
        error(
            entry.value, key, "\(items.count) entries in \(key)",
            expected: "at most \(PolicyLimits.maximumRules) entries in \(key) of one policy",
            hint: "split the policy into several files; rules for one collection with one match can usually be merged")
        return false
    }

    /// `users`: where the orphan sweep finds the existing users.
    private mutating func parseUsers(_ node: Node, subject: SubjectSpec) -> UsersSpec? {
        let errorsBefore = errorCount
        guard let f = fields(node, "users", allowed: PolicyKey.users, misplaced: PolicyKey.misplacedInUsers) else { return nil }
        var database: String?
        if let entry = f["database"], let text = string(entry.value, "users.database") {
            if let problem = Self.databaseNameProblem(text) {
                error(
                    entry.value, "users.database", "invalid database name '\(text)': \(problem)",
                    expected: "a MongoDB database name",
                    hint: "leave it out when the users collection is in the policy's database")
            } else {
                database = text
            }
        }
        let collection = required(f, "collection").flatMap { collectionName($0.value, "users.collection") }
        var field: String?
        if let entry = f["field"] {
            field = singlePath(entry.value, "users.field", purpose: .user)
        } else if !f.suggested.contains("field") {
            // Not `required`: elsewhere `field` is a date, here it is the user id.
            error(
                f.node, "users", "missing required key 'field'", expected: "the field of a users document holding the user's id",
                hint: "add e.g. `field: user_id`")
        }
        let identities = f["identities"].flatMap { singlePath($0.value, "users.identities", purpose: .user) }
        let grace = f["grace"].flatMap { duration($0.value, "users.grace") }
        let created = f["created"].flatMap { singlePath($0.value, "users.created", purpose: .date) }
        guard errorCount == errorsBefore, let collection, let field else { return nil }
        if subject.includeIdentities, identities == nil {
            // Documents may hold identity ids (that is what includeIdentities says), and
            // a users collection that does not list them would make them look orphaned.
            warning(
                f.node, "users", "identity ids will look orphaned: subject.includeIdentities is true but users has no identities",
                expected: "users.identities, the field listing each user's identity ids",
                hint: "add e.g. `identities: identity_ids` if users documents list them, or set "
                    + "`subject.includeIdentities: false` if documents only ever hold user ids")
        }
        return UsersSpec(database: database, collection: collection, field: field, identities: identities, grace: grace, created: created)
    }

    /// `tombstones`: how long tombstones of erased values are kept.
    private mutating func parseTombstones(_ node: Node) -> TombstoneSpec? {
        let errorsBefore = errorCount
        guard let f = fields(node, "tombstones", allowed: PolicyKey.tombstones) else { return nil }
        let keep = f["keep"].flatMap { duration($0.value, "tombstones.keep") }
        guard errorCount == errorsBefore else { return nil }
        return TombstoneSpec(keep: keep, location: location(node))
    }

    private mutating func parseSubject(_ node: Node) -> SubjectSpec {
        var subject = SubjectSpec()
        guard let f = fields(node, "subject", allowed: PolicyKey.subject) else { return subject }
        if let entry = f["idType"], let text = string(entry.value, "subject.idType") {
            if let idType = SubjectIDType(rawValue: text) {
                subject.idType = idType
            } else {
                let names = SubjectIDType.allCases.map(\.rawValue)
                error(
                    entry.value, "subject.idType", "unknown id type '\(text)'",
                    expected: "one of " + names.joined(separator: ", "),
                    hint: DidYouMean.hint(for: text, in: names)
                        ?? "string for text ids such as Atlas App Services user ids, objectId for ObjectIds, "
                        + "uuid for UUIDs, any to try each form the id can take")
            }
        }
        if let entry = f["includeIdentities"], let value = boolean(entry.value, "subject.includeIdentities") {
            subject.includeIdentities = value
        }
        if let entry = f["identifiers"] { subject.identifiers = parseIdentifiers(entry.value) }
        return subject
    }

    // MARK: - Rules

    private mutating func parseRule(_ node: Node, index: Int) -> ErasureRule? {
        let path = "rules[\(index)]"
        let errorsBefore = errorCount
        guard case .mapping = node else {
            error(
                node, path, "wrong type: found \(describe(node))",
                expected: "a mapping with collection, match and action",
                hint: "write each rule as a mapping, e.g. `- { collection: Item, match: owner_id, action: delete }`")
            return nil
        }
        guard let f = fields(node, path, allowed: PolicyKey.rule, misplaced: PolicyKey.misplacedInRule) else {
            return nil
        }
        let collection = required(f, "collection").flatMap { collectionName($0.value, path + ".collection") }
        let match = required(f, "match").flatMap { pathList($0.value, path + ".match", purpose: .match) }
        let using = f["using"].flatMap { parseUsing($0.value, path + ".using", lookup: nil) } ?? [MatchSource.user]
        let scope = f["where"].flatMap { parseWhere($0.value, path + ".where") }
        let description = f["description"].flatMap { string($0.value, path + ".description") }

        var action: RuleAction?
        if let entry = required(f, "action"),
            let name = actionName(entry.value, path + ".action", allowed: RuleAction.names)
        {
            action = parseActionBody(name, f, path, actionNode: entry.value, match: match, context: .rule)
        }

        guard errorCount == errorsBefore, let collection, let match, let action else { return nil }
        return ErasureRule(
            index: index, collection: collection, match: match, using: using, scope: scope, action: action,
            description: description, location: location(node))
    }

    private mutating func parseRetentionRule(_ node: Node, index: Int) -> RetentionRule? {
        let path = "retention[\(index)]"
        let errorsBefore = errorCount
        guard case .mapping = node else {
            error(
                node, path, "wrong type: found \(describe(node))",
                expected: "a mapping with collection, field, olderThan and action",
                hint: "e.g. `- { collection: sessions, field: last_seen, olderThan: 180d, action: delete }`")
            return nil
        }
        guard
            let f = fields(node, path, allowed: PolicyKey.retentionRule, misplaced: PolicyKey.misplacedInRetention)
        else { return nil }
        let collection = required(f, "collection").flatMap { collectionName($0.value, path + ".collection") }
        let field = required(f, "field").flatMap { singlePath($0.value, path + ".field", purpose: .date) }
        let olderThan = required(f, "olderThan").flatMap { duration($0.value, path + ".olderThan") }
        let scope = f["where"].flatMap { parseWhere($0.value, path + ".where") }
        let description = f["description"].flatMap { string($0.value, path + ".description") }

        var action: RuleAction?
        if let entry = required(f, "action") {
            let allowed = ["delete", "anonymize"]
            if let name = actionName(
                entry.value, path + ".action", allowed: allowed,
                otherHint: "retention rules apply to everybody's documents by age; pull and retain need a user, "
                    + "so they belong under rules")
            {
                action = parseActionBody(name, f, path, actionNode: entry.value, match: nil, context: .retention)
            }
        }

        guard errorCount == errorsBefore, let collection, let field, let olderThan, let action else { return nil }
        return RetentionRule(
            index: index, collection: collection, field: field, olderThan: olderThan, action: action,
            scope: scope, description: description, location: location(node))
    }

    enum ActionContext {
        /// A rule of `rules`.
        case rule
        /// The `then` of a retain rule.
        case then
        /// A rule of `retention`.
        case retention
    }

    /// Checks the keys that only some actions take, and reads them.
    private mutating func parseActionBody(
        _ name: String, _ f: Fields, _ path: String, actionNode: Node, match: [String]?, context: ActionContext
    ) -> RuleAction? {
        let allowedHere: [String] =
            switch name {
            case "anonymize": PolicyKey.changeKeys
            case "retain": PolicyKey.retainKeys
            default: []
            }
        var misplacedKeys = false
        for entry in f.entries
        where (PolicyKey.changeKeys + PolicyKey.retainKeys).contains(entry.key) && !allowedHere.contains(entry.key) {
            misplacedKeys = true
            let keysOfAction = f.allowed.filter { !(PolicyKey.changeKeys + PolicyKey.retainKeys).contains($0) } + allowedHere
            error(
                entry.keyNode, join(path, entry.key), "'\(entry.key)' is not allowed with action '\(name)'",
                expected: "for action '\(name)': " + keysOfAction.joined(separator: ", "),
                hint: Self.misplacedKeyHint(key: entry.key, action: name))
        }
        switch name {
        case "delete":
            return misplacedKeys ? nil : .delete
        case "pull":
            return misplacedKeys ? nil : .pull
        case "anonymize":
            let changes = parseAnonymization(f, path, actionNode: actionNode, match: match, context: context)
            return misplacedKeys ? nil : changes.map(RuleAction.anonymize)
        case "retain":
            let retention = parseRetention(f, path, match: match)
            return misplacedKeys ? nil : retention.map(RuleAction.retain)
        default:
            return nil
        }
    }

    private static func misplacedKeyHint(key: String, action: String) -> String {
        let isChange = PolicyKey.changeKeys.contains(key)
        switch (action, isChange) {
        case ("delete", true):
            return "delete removes the whole document, so there is nothing to change; "
                + "use action: anonymize to keep the document and change fields"
        case ("pull", true):
            return "pull only removes the user's ids from the matched array; "
                + "to change other fields, add an anonymize rule for the same collection"
        case ("retain", true):
            return "retain keeps documents untouched; to change them when the retention ends, "
                + "write the changes under then, e.g. `then: { action: anonymize, unset: [email] }`"
        default:
            return "'\(key)' belongs to action: retain"
        }
    }

    private mutating func parseRetention(_ f: Fields, _ path: String, match: [String]?) -> Retention? {
        let errorsBefore = errorCount
        var reason: String?
        if let entry = f["reason"] {
            if let text = string(entry.value, join(path, "reason")) {
                if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                    error(
                        entry.value, join(path, "reason"), "empty reason",
                        expected: PolicyKey.named("reason").expected,
                        hint: "the reason is recorded in every receipt, e.g. `reason: Commercial records are kept for 10 years`")
                } else {
                    reason = text
                }
            }
        } else if !f.suggested.contains("reason") {
            error(
                f.node, path, "missing required key 'reason'", expected: PolicyKey.named("reason").expected,
                hint: "retain must say why the documents are kept, e.g. "
                    + "`reason: Commercial records are kept for 10 years`; it is recorded in every receipt")
        }

        var until: RetentionDeadline?
        if let entry = f["until"] {
            let untilPath = join(path, "until")
            if let u = fields(entry.value, untilPath, allowed: PolicyKey.until) {
                let field = required(u, "field").flatMap { singlePath($0.value, join(untilPath, "field"), purpose: .date) }
                let after = required(u, "after").flatMap { duration($0.value, join(untilPath, "after")) }
                if let field, let after { until = RetentionDeadline(field: field, after: after) }
            }
            if f["then"] == nil {
                error(
                    entry.keyNode, untilPath, "'until' without 'then'",
                    expected: "then, saying what happens when the retention ends",
                    hint: "add e.g. `then: { action: delete }`, or remove until to keep the documents indefinitely")
            }
        }

        var then: RuleAction?
        if let entry = f["then"] {
            let thenPath = join(path, "then")
            if let t = fields(entry.value, thenPath, allowed: PolicyKey.then),
                let actionEntry = required(t, "action"),
                let name = actionName(
                    actionEntry.value, join(thenPath, "action"), allowed: ["delete", "anonymize"],
                    // `then` runs long after the request, when the user's ids are gone:
                    // a pull, which needs them, could never be carried out.
                    otherHint: "a retention that never ends needs neither until nor then (remove both); "
                        + "pull cannot come later, as it needs the user's ids, which go with the request")
            {
                then = parseActionBody(name, t, thenPath, actionNode: actionEntry.value, match: match, context: .then)
            }
            if f["until"] == nil {
                error(
                    entry.keyNode, thenPath, "'then' without 'until'",
                    expected: "until, saying when the retention ends",
                    hint: "add e.g. `until: { field: created_at, after: 10y }`, or remove then")
            }
        }

        guard errorCount == errorsBefore, let reason else { return nil }
        return Retention(reason: reason, until: until, then: then)
    }

    private mutating func parseAnonymization(
        _ f: Fields, _ path: String, actionNode: Node, match: [String]?, context: ActionContext
    ) -> Anonymization? {
        let errorsBefore = errorCount
        var changes = Anonymization()
        var changed: [(path: String, operation: String, node: Node)] = []

        if let entry = f["set"] {
            let setPath = join(path, "set")
            if case .mapping(let mapping) = entry.value {
                for (keyNode, value) in mapping {
                    guard let key = keyText(keyNode, setPath) else { continue }
                    let fieldPath = join(setPath, key)
                    let validPath = checkFieldPath(key, keyNode, fieldPath, purpose: .change)
                    if let bson = convertValue(value, fieldPath), validPath {
                        changes.set.append(key, bson)
                        changed.append((key, "set", keyNode))
                    }
                }
            } else {
                wrongType(entry.value, setPath, key: "set")
            }
        }
        for operation in ["unset", "hash", "pseudonymize"] {
            guard let entry = f[operation] else { continue }
            let operationPath = join(path, operation)
            if operation == "pseudonymize", context == .retention {
                error(
                    entry.keyNode, operationPath, "'pseudonymize' is not available in retention rules",
                    expected: "for anonymize in retention rules: set, unset, hash",
                    hint: "a pseudonym is one token per user, and retention rules act on everybody's documents "
                        + "without a user; use hash instead")
                continue
            }
            if operation != "unset", !options.hashKeyConfigured {
                error(
                    entry.keyNode, operationPath,
                    "\(operation) needs the secret key in \(PolicyLoader.hashKeyVariable), which is not set",
                    expected: "\(PolicyLoader.hashKeyVariable) set to a secret of at least 32 bytes",
                    hint: "generate one with `openssl rand -hex 32`, set it as \(PolicyLoader.hashKeyVariable) "
                        + "in the worker's environment, and keep it: a new key changes every hash and token")
            }
            guard let items = pathItems(entry.value, operationPath, purpose: .change) else { continue }
            for (fieldPath, node) in items {
                changed.append((fieldPath, operation, node))
                switch operation {
                case "unset": changes.unset.append(fieldPath)
                case "hash": changes.hash.append(fieldPath)
                default: changes.pseudonymize.append(fieldPath)
                }
            }
        }

        reportConflictingChanges(changed, path)

        if changed.isEmpty && errorCount == errorsBefore {
            let operations = context == .retention ? "set, unset, hash" : "set, unset, hash, pseudonymize"
            error(
                actionNode, join(path, "action"), "anonymize changes nothing",
                expected: "at least one of \(operations)",
                hint: "list the fields to change, e.g. `unset: [email]`; to keep documents untouched, "
                    + "use action: retain with a reason")
        }

        if errorCount == errorsBefore, let match {
            warnIfMatchSurvives(match, changed.map(\.path), actionNode: actionNode, path: join(path, "action"))
        }
        return errorCount == errorsBefore ? changes : nil
    }

    /// One way of changing each field, and never a field together with a field inside it.
    /// Linear in the fields: each is looked up by its path and by each of its prefixes.
    private mutating func reportConflictingChanges(_ changed: [(path: String, operation: String, node: Node)], _ path: String) {
        typealias Change = (path: String, operation: String, node: Node)
        var byPath: [String: Change] = [:]
        /// The first change inside each path that has one (`a` for `a.b`, `a.b.c`).
        var firstInside: [String: Change] = [:]
        for later in changed {
            let segments = later.path.split(separator: ".", omittingEmptySubsequences: false)
            let prefixes = (1..<max(segments.count, 1)).map { segments[..<$0].joined(separator: ".") }
            if let earlier = byPath[later.path] {
                let message =
                    later.operation == earlier.operation
                    ? "'\(later.path)' is listed twice in \(later.operation)"
                    : "'\(later.path)' is in both \(earlier.operation) and \(later.operation)"
                error(
                    later.node, join(path, later.operation), message,
                    expected: "each field in only one of set, unset, hash, pseudonymize",
                    hint: "a field can be changed one way only; keep one of them")
            } else if let outer = prefixes.lazy.compactMap({ byPath[$0] }).first {
                reportNested(inner: later, outer: outer, later: later, path)
            } else if let inner = firstInside[later.path] {
                reportNested(inner: inner, outer: later, later: later, path)
            }
            if byPath[later.path] == nil { byPath[later.path] = later }
            for prefix in prefixes where firstInside[prefix] == nil { firstInside[prefix] = later }
        }
    }

    private mutating func reportNested(inner: (path: String, operation: String, node: Node),
                                       outer: (path: String, operation: String, node: Node),
                                       later: (path: String, operation: String, node: Node), _ path: String) {
        error(
            later.node, join(path, later.operation),
            "'\(inner.path)' (\(inner.operation)) is inside '\(outer.path)' (\(outer.operation))",
            expected: "fields that do not contain one another",
            hint: "MongoDB cannot change a field and a field inside it in one update; "
                + "change only '\(outer.path)', or list the fields inside it one by one")
    }

    /// Anonymized documents that still hold the user's id in a matched field still
    /// point to the user.
    private mutating func warnIfMatchSurvives(_ match: [String], _ changed: [String], actionNode: Node, path: String) {
        for field in match {
            let covered = changed.contains { field == $0 || field.hasPrefix($0 + ".") }
            guard !covered else { continue }
            let isID = field == "_id" || field.hasPrefix("_id.")
            warning(
                actionNode, path, "anonymized documents keep the user's id in '\(field)'",
                expected: isID ? "a match on a field other than _id" : "'\(field)' in set, unset, hash or pseudonymize",
                hint: isID
                    ? "_id never changes, so these documents stay linked to the user; delete them instead"
                    : "otherwise the documents still point to the user; pseudonymize '\(field)' to keep "
                        + "one user's documents together without saying who it was")
        }
    }

    /// A later rule with the same collection and match and no `where` on either side
    /// sees nothing new: the earlier rule already took every document.
    /// Linear: the first unscoped rule of each collection and match is remembered.
    private mutating func warnAboutOverlappingRules(_ rules: [ErasureRule]) {
        struct Key: Hashable {
            let collection: String
            let match: Set<String>
            let using: Set<String>
        }
        var first: [Key: ErasureRule] = [:]
        for later in rules where later.scope == nil {
            let key = Key(collection: later.collection, match: Set(later.match), using: Set(later.using))
            guard let earlier = first[key] else {
                first[key] = later
                continue
            }
            let same = "rules[\(earlier.index)] already acts on every document of '\(later.collection)' with this match"
            diagnose(
                .warning, at: (later.location.line, later.location.column), "rules[\(later.index)]", same,
                expected: "one rule per collection and match, or a where that splits the documents between them",
                hint: earlier.action == .delete
                    ? "rules[\(earlier.index)] deletes them first, so this rule never sees any; merge the rules or add where"
                    : "merge the two rules, or add where to say which documents each one takes")
        }
    }

    // MARK: - Names

    static func isValidPolicyName(_ name: String) -> Bool {
        func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
        }
        guard (1...64).contains(name.unicodeScalars.count), let first = name.unicodeScalars.first,
            isAlphanumeric(first)
        else { return false }
        return name.unicodeScalars.allSatisfy { isAlphanumeric($0) || $0 == "." || $0 == "_" || $0 == "-" }
    }

    /// MongoDB's rules for a database name, and none of MongoDB's own databases: a policy
    /// never erases in admin, local or config.
    static func databaseNameProblem(_ name: String) -> String? {
        if let problem = LetheNamespaces.databaseNameProblem(name) { return problem }
        if LetheNamespaces.systemDatabases.contains(name) { return "it is one of MongoDB's own databases (admin, local, config)" }
        return nil
    }

    mutating func collectionName(_ node: Node, _ path: String) -> String? {
        guard let name = string(node, path) else { return nil }
        let problem: (String, String)? =
            if name.isEmpty {
                ("empty collection name", "write the collection's name, e.g. `collection: Item`")
            } else if name.hasPrefix("system.") {
                (
                    "refusing system collection '\(name)'",
                    "system collections belong to MongoDB, and Lethe never changes them"
                )
            } else if name.contains("$") || name.contains("\0") {
                ("invalid collection name '\(name)'", "collection names cannot contain '$' or NUL")
            } else if name.utf8.count > 255 {
                ("collection name longer than 255 bytes", "write the collection's name as MongoDB shows it")
            } else {
                nil
            }
        if let (message, hint) = problem {
            error(node, path, message, expected: "the name of an application collection", hint: hint)
            return nil
        }
        return name
    }

    private mutating func actionName(
        _ node: Node, _ path: String, allowed: [String], otherHint: String? = nil
    ) -> String? {
        guard let name = string(node, path) else { return nil }
        if allowed.contains(name) { return name }
        let known = RuleAction.names.contains(name)
        error(
            node, path, known ? "action '\(name)' is not allowed here" : "unknown action '\(name)'",
            expected: "one of " + allowed.joined(separator: ", "),
            hint: known
                ? otherHint
                : DidYouMean.hint(for: name, in: allowed) ?? Self.actionSynonyms[name.lowercased()].map {
                    "did you mean '\($0)'?"
                }
                    ?? "delete removes documents, anonymize changes fields, pull removes the user's ids from an "
                    + "array, retain keeps documents for a stated reason")
        return nil
    }

    private static let actionSynonyms = [
        "remove": "delete", "erase": "delete", "drop": "delete", "purge": "delete",
        "redact": "anonymize", "mask": "anonymize", "scrub": "anonymize", "update": "anonymize",
        "keep": "retain", "hold": "retain",
    ]
}
