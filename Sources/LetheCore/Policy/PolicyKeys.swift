/// What each policy key holds, for messages: what is expected, and an example to
/// copy. Keep in step with docs/policies.md.
struct PolicyKey {
    let name: String
    let expected: String
    let example: String

    static let all: [String: PolicyKey] = Dictionary(
        uniqueKeysWithValues: [
            PolicyKey(name: "version", expected: "the number 1", example: "version: 1"),
            PolicyKey(
                name: "name", expected: "a policy name of letters, digits, '.', '_' or '-'", example: "name: todo-app"),
            PolicyKey(name: "database", expected: "a MongoDB database name", example: "database: todo"),
            PolicyKey(name: "description", expected: "text", example: "description: What this is for"),
            PolicyKey(
                name: "subject", expected: "a mapping with idType and includeIdentities",
                example: "subject: { idType: string }"),
            PolicyKey(
                name: "idType", expected: "one of " + SubjectIDType.allCases.map(\.rawValue).joined(separator: ", "),
                example: "idType: string"),
            PolicyKey(name: "includeIdentities", expected: "true or false", example: "includeIdentities: true"),
            PolicyKey(
                name: "identifiers", expected: "a list of identifier names (a letter, then letters, digits or '_')",
                example: "identifiers: [email]"),
            PolicyKey(
                name: "lookups", expected: "a mapping of lookup names to lookups",
                example: "lookups: { accounts: { collection: customers, match: _id, field: accounts } }"),
            PolicyKey(
                name: "using", expected: "user, an identifier name, a lookup name, or a list of them",
                example: "using: [user, email]"),
            PolicyKey(
                name: "maxLookupValues", expected: "a whole number of at least 1", example: "maxLookupValues: 10000"),
            PolicyKey(name: "deadline", expected: durationExpected, example: "deadline: 30d"),
            PolicyKey(
                name: "maxDocumentsPerRequest", expected: "a whole number of at least 1",
                example: "maxDocumentsPerRequest: 10000"),
            PolicyKey(
                name: "rules", expected: "a list of rules",
                example: "rules: [ { collection: Item, match: owner_id, action: delete } ]"),
            PolicyKey(
                name: "retention", expected: "a list of retention rules",
                example: "retention: [ { collection: sessions, field: last_seen, olderThan: 180d, action: delete } ]"),
            PolicyKey(name: "collection", expected: "a collection name", example: "collection: Item"),
            PolicyKey(name: "match", expected: "a field path or a list of field paths", example: "match: owner_id"),
            PolicyKey(name: "where", expected: "a mapping of field conditions", example: "where: { shared: true }"),
            PolicyKey(
                name: "action", expected: "one of " + RuleAction.names.joined(separator: ", "), example: "action: delete"),
            PolicyKey(
                name: "set", expected: "a mapping of field paths to new values",
                example: "set: { author.name: Deleted user }"),
            PolicyKey(name: "unset", expected: "a field path or a list of field paths", example: "unset: [author.email]"),
            PolicyKey(name: "hash", expected: "a field path or a list of field paths", example: "hash: [author.ip]"),
            PolicyKey(
                name: "pseudonymize", expected: "a field path or a list of field paths",
                example: "pseudonymize: [author.id]"),
            PolicyKey(
                name: "reason", expected: "text saying why the documents are kept",
                example: "reason: Commercial records are kept for 10 years"),
            PolicyKey(
                name: "until", expected: "a mapping with field and after",
                example: "until: { field: created_at, after: 10y }"),
            PolicyKey(
                name: "then", expected: "a mapping with an action", example: "then: { action: delete }"),
            PolicyKey(name: "field", expected: "the path of a date field", example: "field: last_seen"),
            PolicyKey(name: "after", expected: durationExpected, example: "after: 10y"),
            PolicyKey(name: "olderThan", expected: durationExpected, example: "olderThan: 180d"),
            PolicyKey(
                name: "users", expected: "a mapping with collection and field",
                example: "users: { collection: custom_user_data, field: user_id }"),
            PolicyKey(
                name: "identities", expected: "the path of a field listing the user's identity ids",
                example: "identities: identity_ids"),
            PolicyKey(name: "grace", expected: durationExpected, example: "grace: 1d"),
            PolicyKey(name: "created", expected: "the path of a date field", example: "created: created_at"),
            PolicyKey(
                name: "tombstones", expected: "a mapping with keep", example: "tombstones: { keep: 400d }"),
            PolicyKey(name: "keep", expected: durationExpected, example: "keep: 400d"),
        ].map { ($0.name, $0) }
    )

    static let durationExpected = "a duration: a whole number and d, w, mo or y (30d, 2w, 6mo, 10y)"

    static func named(_ name: String) -> PolicyKey {
        all[name] ?? PolicyKey(name: name, expected: "a value", example: "\(name): …")
    }

    // MARK: Keys of each mapping, in documentation order

    static let topLevel = [
        "version", "name", "database", "description", "subject", "deadline", "maxDocumentsPerRequest", "lookups",
        "maxLookupValues", "rules", "retention", "users", "tombstones",
    ]
    static let subject = ["idType", "includeIdentities", "identifiers"]
    static let lookup = ["collection", "match", "using", "where", "field", "description"]
    static let rule = [
        "collection", "match", "using", "where", "action", "description", "set", "unset", "hash", "pseudonymize", "reason",
        "until", "then",
    ]
    static let until = ["field", "after"]
    static let then = ["action", "set", "unset", "hash", "pseudonymize"]
    static let retentionRule = [
        "collection", "field", "olderThan", "where", "action", "description", "set", "unset", "hash", "pseudonymize",
    ]
    static let users = ["database", "collection", "field", "identities", "grace", "created"]
    static let tombstones = ["keep"]
    static let changeKeys = ["set", "unset", "hash", "pseudonymize"]
    static let retainKeys = ["reason", "until", "then"]

    // MARK: Keys people put at the wrong level

    static let misplacedAtTop: [String: String] = {
        var out = [
            "idType": "'idType' goes under subject, e.g. `subject: { idType: string }`",
            "includeIdentities": "'includeIdentities' goes under subject, e.g. `subject: { includeIdentities: true }`",
            "identifiers": "'identifiers' goes under subject, e.g. `subject: { identifiers: [email] }`",
            "olderThan": "'olderThan' goes in an item of the retention list",
            "field": "'field' goes in an item of the retention list, or under users",
            "using": "'using' goes in a rule or a lookup",
        ]
        for key in rule where !topLevel.contains(key) && key != "using" {
            out[key] = "'\(key)' goes in an item of the rules list"
        }
        return out
    }()
    static let misplacedInRule: [String: String] = [
        "filter": "did you mean 'where'?",
        "query": "did you mean 'where'?",
        "olderThan": "'olderThan' belongs to retention rules (the top-level retention list)",
        "field": "'field' belongs to retention rules, or to until in a retain rule",
        "after": "'after' goes under until, e.g. `until: { field: created_at, after: 10y }`",
        "idType": "'idType' goes under the top-level subject",
    ]
    static let misplacedInLookup: [String: String] = [
        "action": "a lookup only reads; rules under rules act on what it finds",
        "filter": "did you mean 'where'?",
        "query": "did you mean 'where'?",
        "fields": "a lookup reads one field; write one lookup per field",
    ]
    static let misplacedInUsers: [String: String] = [
        "match": "did you mean 'field'? it names the field of a users document that holds the user's id",
        "idField": "did you mean 'field'?",
        "userId": "did you mean 'field'?",
        "minimumAge": "did you mean 'grace'?",
        "idType": "'idType' goes under the top-level subject; it applies to the users collection too",
    ]
    static let misplacedInRetention: [String: String] = [
        "match": "retention rules apply to everybody's documents by age, so they have no match; per-user rules go under rules",
        "reason": "retention rules cannot retain; per-user retain rules go under rules",
        "until": "retention rules cannot retain; per-user retain rules go under rules",
        "then": "retention rules cannot retain; per-user retain rules go under rules",
        "filter": "did you mean 'where'?",
        "query": "did you mean 'where'?",
    ]
}
