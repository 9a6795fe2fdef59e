import BSON
import LetheCore
import Testing

/// What the loader refuses because it could erase the wrong data, run code on the
/// server, or silently do nothing.
@Suite("Policy: unsafe policies are refused")
struct PolicySafetyTests {
    let policy = PolicyTestSupport.policy(rule:)
    let messages = { (yaml: String) in PolicyTestSupport.messages(yaml) }

    @Test("an empty match, in every spelling", arguments: [
        ("match: \"\"", "6:12 rules[0].match", "empty match"),
        ("match: []", "6:12 rules[0].match", "empty match"),
        ("match:", "6:11 rules[0].match", "empty match"),
        ("match: [owner_id, '']", "6:23 rules[0].match[1]", "empty match"),
        ("match: a..b", "6:12 rules[0].match", "field path 'a..b' has an empty segment"),
        ("match: .a", "6:12 rules[0].match", "field path '.a' has an empty segment"),
        ("match: a.", "6:12 rules[0].match", "field path 'a.' has an empty segment"),
        ("match: $owner", "6:12 rules[0].match", "field path '$owner' starts with '$'"),
        ("match: members.$.id", "6:12 rules[0].match", "field path 'members.$.id' contains the positional operator '$'"),
        ("match: members.$[].id", "6:12 rules[0].match", "field path 'members.$[].id' contains the positional operator '$[]'"),
    ])
    func emptyMatch(line: String, position: String, message: String) {
        let result = PolicyTestSupport.load(policy("  - collection: c\n    \(line)\n    action: delete\n"))
        #expect(result.policies.isEmpty)
        #expect(result.errors.map { "\($0.line):\($0.column) \($0.keyPath)" } == [position])
        #expect(result.errors.first?.message == message)
        #expect(result.errors.first?.expected == "a field path such as owner_id or author.id")
    }

    @Test("JavaScript operators are refused anywhere in where", arguments: [
        ("{ $where: \"this.a == 1\" }", "rules[0].where.$where", "$where"),
        ("{ a: { $function: { body: x } } }", "rules[0].where.a.$function", "$function"),
        ("{ $expr: { $eq: [\"$a\", 1] } }", "rules[0].where.$expr", "$expr"),
        ("{ $and: [ { a: 1 }, { $expr: { $gt: [\"$a\", 1] } } ] }", "rules[0].where.$and[1].$expr", "$expr"),
        ("{ $or: [ { $nor: [ { $where: x } ] } ] }", "rules[0].where.$or[0].$nor[0].$where", "$where"),
        ("{ tags: { $elemMatch: { $expr: x } } }", "rules[0].where.tags.$elemMatch.$expr", "$expr"),
        ("{ tags: { $elemMatch: { k: { $accumulator: x } } } }", "rules[0].where.tags.$elemMatch.k.$accumulator", "$accumulator"),
        ("{ a: { $not: { $where: x } } }", "rules[0].where.a.$not.$where", "$where"),
        ("{ a: { $in: [ { $function: x } ] } }", "rules[0].where.a.$in[0].$function", "$function"),
        ("{ a: { b: { $where: x } } }", "rules[0].where.a.b.$where", "$where"),
        ("{ a.$b: { $where: x } }", "rules[0].where[\"a.$b\"].$where", "$where"),
    ])
    func javascript(filter: String, keyPath: String, op: String) throws {
        let result = PolicyTestSupport.load(
            policy("  - collection: c\n    match: m\n    action: delete\n    where: \(filter)\n"))
        #expect(result.policies.isEmpty)
        let refusal = try #require(result.errors.first { $0.message == "'\(op)' is refused as unsafe" })
        #expect(refusal.keyPath == keyPath)
        #expect(refusal.line == 8)
        #expect(refusal.expected == "field conditions with query operators such as $eq, $in, $exists, $and, $or")
        if op == "$expr" {
            #expect(refusal.hint?.contains("it can carry JavaScript through $function") == true)
        } else {
            #expect(refusal.hint?.contains("runs JavaScript on the database server") == true)
        }
    }

    @Test("the exact text of a refused $expr")
    func exprText() {
        #expect(messages(policy("  - collection: c\n    match: m\n    where: { $expr: {} }\n    action: delete\n")) == [
            "p.yaml:7:14: error: rules[0].where.$expr: '$expr' is refused as unsafe; expected field conditions "
                + "with query operators such as $eq, $in, $exists, $and, $or (hint: $expr is refused entirely, "
                + "because it can carry JavaScript through $function; write the condition with field conditions "
                + "and query operators)"
        ])
    }

    @Test("badly formed filters", arguments: [
        (
            "{ a: { $gte: 1, b: 2 } }", "8:17 rules[0].where.a",
            "mixes operators and field names"
        ),
        ("{ $gt: 1 }", "8:14 rules[0].where.$gt", "'$gt' needs a field"),
        ("{ $foo: 1 }", "8:14 rules[0].where.$foo", "unknown query operator '$foo'"),
        ("{ a: { $inn: [1] } }", "8:19 rules[0].where.a.$inn", "unknown query operator '$inn'"),
        ("{ a: { $or: [ { b: 1 } ] } }", "8:19 rules[0].where.a.$or", "'$or' cannot be used on a field"),
        ("{ $or: { a: 1 } }", "8:19 rules[0].where.$or", "wrong type: found a mapping"),
        ("{ $or: [] }", "8:19 rules[0].where.$or", "no conditions"),
        ("{ $and: [ 1 ] }", "8:22 rules[0].where.$and[0]", "wrong type: found a number"),
        ("{ a: { $in: 1 } }", "8:24 rules[0].where.a.$in", "wrong type: found a number"),
        ("{ a: { $exists: \"yes\" } }", "8:28 rules[0].where.a.$exists", "wrong type: found a string"),
        ("{ a..b: 1 }", "8:14 rules[0].where[\"a..b\"]", "field path 'a..b' has an empty segment"),
        ("{ a: { $eq: { $oid: nope } } }", "8:32 rules[0].where.a.$eq.$oid", "'nope' is not an ObjectId"),
        ("shared", "8:12 rules[0].where", "wrong type: found a string"),
    ])
    func badFilters(filter: String, position: String, message: String) {
        let result = PolicyTestSupport.load(
            policy("  - collection: c\n    match: m\n    action: delete\n    where: \(filter)\n"))
        #expect(result.policies.isEmpty)
        #expect(result.errors.map { "\($0.line):\($0.column) \($0.keyPath)" } == [position])
        #expect(result.errors.first?.message == message)
    }

    @Test("a did-you-mean for a misspelled operator")
    func operatorSuggestion() {
        #expect(PolicyTestSupport.load(
            policy("  - collection: c\n    match: m\n    action: delete\n    where: { a: { $inn: [1] } }\n")
        ).errors.first?.hint == "did you mean '$in'?")
    }

    @Test("a where on the match field and a full set of operators are accepted")
    func goodFilter() throws {
        let result = PolicyTestSupport.load(policy("""
              - collection: c
                match: owner_id
                action: delete
                where:
                  owner_id: { $exists: true }
                  status: { $in: [archived, deleted], $ne: draft }
                  age: { $gte: 18, $lt: 100.5, $not: { $eq: 50 } }
                  tags: { $elemMatch: { name: x, weight: { $gt: 1 } }, $size: 2, $all: [a] }
                  scores: { $elemMatch: { $gte: 1 } }
                  n: { $mod: [4, 0], $type: int }
                  title: { $regex: "^draft-", $options: i }
                  author.id: { $eq: { $oid: "65a1f0c2e4b0a1b2c3d4e5f6" } }
                  $or: [ { shared: true }, { public: true } ]

            """))
        #expect(result.diagnostics.map(\.description) == [])
        let scope = try #require(result.policies.first?.rules.first?.scope)
        #expect(scope.keys == ["owner_id", "status", "age", "tags", "scores", "n", "title", "author.id", "$or"])
        #expect(scope["status"] == ["$in": ["archived", "deleted"], "$ne": "draft"])
        #expect(scope["age"] == ["$gte": 18, "$lt": 100.5, "$not": ["$eq": 50]])
        #expect(scope["tags"] == ["$elemMatch": ["name": "x", "weight": ["$gt": 1]], "$size": 2, "$all": ["a"]])
        #expect(scope["scores"] == ["$elemMatch": ["$gte": 1]])
        #expect(scope["$or"] == [["shared": true], ["public": true]])
        let id = try #require(BSONObjectId("65a1f0c2e4b0a1b2c3d4e5f6"))
        #expect(scope["author.id"] == ["$eq": .objectId(id)])
    }

    @Test("set, unset, hash or pseudonymize on a delete or pull rule is meaningless", arguments: [
        ("delete", "set: { a: 1 }", "set"), ("delete", "unset: [a]", "unset"), ("delete", "hash: [a]", "hash"),
        ("delete", "pseudonymize: [a]", "pseudonymize"), ("pull", "unset: [a]", "unset"),
    ])
    func changesOnDelete(action: String, line: String, key: String) {
        let result = PolicyTestSupport.load(policy("  - collection: c\n    match: m\n    action: \(action)\n    \(line)\n"))
        #expect(result.policies.isEmpty)
        #expect(result.errors.map(\.message) == ["'\(key)' is not allowed with action '\(action)'"])
        #expect(result.errors.first?.keyPath == "rules[0].\(key)")
        #expect(result.errors.first.map { ($0.line, $0.column) } ?? (0, 0) == (8, 5))
    }

    @Test("an anonymize that changes nothing is refused")
    func anonymizeNothing() {
        let expected =
            "p.yaml:7:13: error: rules[0].action: anonymize changes nothing; expected at least one of set, unset, "
            + "hash, pseudonymize (hint: list the fields to change, e.g. `unset: [email]`; to keep documents "
            + "untouched, use action: retain with a reason)"
        #expect(messages(policy("  - collection: c\n    match: m\n    action: anonymize\n")) == [expected])
        #expect(messages(policy("  - collection: c\n    match: m\n    action: anonymize\n    set: {}\n    unset: []\n"))
            == [expected])
    }

    @Test("_id cannot be changed", arguments: ["set: { _id: 1 }", "unset: [_id]", "hash: [_id.part]", "pseudonymize: [_id]"])
    func changesID(line: String) {
        let result = PolicyTestSupport.load(policy("  - collection: c\n    match: m\n    action: anonymize\n    \(line)\n"))
        #expect(result.policies.isEmpty)
        #expect(result.errors.count == 1)
        #expect(result.errors.first?.message.hasPrefix("cannot modify '_id") == true)
        #expect(result.errors.first?.hint == "MongoDB never changes _id; to remove the document, use action: delete")
    }

    @Test("bad paths in set, unset, hash, pseudonymize", arguments: [
        ("set: { $a: 1 }", "field path '$a' starts with '$'"),
        ("unset: [a..b]", "field path 'a..b' has an empty segment"),
        ("hash: ['']", "empty field path"),
        ("pseudonymize: [a.$]", "field path 'a.$' contains the positional operator '$'"),
    ])
    func badChangePaths(line: String, message: String) {
        let result = PolicyTestSupport.load(policy("  - collection: c\n    match: m\n    action: anonymize\n    \(line)\n"))
        #expect(result.errors.map(\.message) == [message])
    }

    @Test("one field changed two ways, or a field and a field inside it, is refused")
    func conflicts() {
        #expect(messages(policy(
            "  - collection: c\n    match: m\n    action: anonymize\n    unset: [a.email]\n    hash: [a.email]\n")) == [
            "p.yaml:9:12: error: rules[0].hash: 'a.email' is in both unset and hash; expected each field in only one "
                + "of set, unset, hash, pseudonymize (hint: a field can be changed one way only; keep one of them)"
        ])
        #expect(messages(policy(
            "  - collection: c\n    match: m\n    action: anonymize\n    set: { author: null }\n    unset: [author.email]\n"))
            == [
                "p.yaml:9:13: error: rules[0].unset: 'author.email' (unset) is inside 'author' (set); expected fields "
                    + "that do not contain one another (hint: MongoDB cannot change a field and a field inside it in "
                    + "one update; change only 'author', or list the fields inside it one by one)"
            ])
        #expect(PolicyTestSupport.load(policy(
            "  - collection: c\n    match: m\n    action: anonymize\n    hash: [ip, ip]\n")).errors.map(\.message)
            == ["'ip' is listed twice in hash"])
        #expect(PolicyTestSupport.load(policy(
            "  - collection: c\n    match: m\n    action: anonymize\n    pseudonymize: [a.b.c]\n    set: { a.b: 1 }\n"))
            .errors.map(\.message) == ["'a.b.c' (pseudonymize) is inside 'a.b' (set)"])
    }

    @Test("hash and pseudonymize need LETHE_HASH_KEY, in rules, then, and retention")
    func hashKey() {
        let yaml = """
            version: 1
            name: t
            database: db
            rules:
              - collection: c
                match: m
                action: anonymize
                hash: [ip]
              - collection: o
                match: m
                action: retain
                reason: law
                until: { field: at, after: 1y }
                then: { action: anonymize, pseudonymize: [m] }
            retention:
              - collection: s
                field: at
                olderThan: 1y
                action: anonymize
                hash: [ip]
            """
        let without = PolicyTestSupport.load(yaml, hashKey: false)
        #expect(without.policies.isEmpty)
        #expect(without.errors.map { "\($0.line):\($0.column) \($0.keyPath)" } == [
            "8:5 rules[0].hash", "14:32 rules[1].then.pseudonymize", "20:5 retention[0].hash",
        ])
        #expect(without.errors.first?.description
            == "p.yaml:8:5: error: rules[0].hash: hash needs the secret key in LETHE_HASH_KEY, which is not set; "
            + "expected LETHE_HASH_KEY set to a secret of at least 32 bytes (hint: generate one with `openssl rand "
            + "-hex 32`, set it as LETHE_HASH_KEY in the worker's environment, and keep it: a new key changes every "
            + "hash and token)")
        let with = PolicyTestSupport.load(yaml, hashKey: true)
        #expect(!with.hasErrors)
        #expect(with.policies.count == 1)

        // unset alone needs no key.
        #expect(!PolicyTestSupport.load(
            policy("  - collection: c\n    match: m\n    action: anonymize\n    unset: [m]\n"), hashKey: false).hasErrors)
    }

    @Test("the hash key option can be read from the environment")
    func hashKeyFromEnvironment() {
        #expect(PolicyLoader.Options.fromEnvironment(["LETHE_HASH_KEY": "k"]).hashKeyConfigured)
        #expect(!PolicyLoader.Options.fromEnvironment(["LETHE_HASH_KEY": ""]).hashKeyConfigured)
        #expect(!PolicyLoader.Options.fromEnvironment([:]).hashKeyConfigured)
        #expect(!PolicyLoader.Options().hashKeyConfigured)
    }

    @Test("retention rules cannot pseudonymize, pull or retain: there is no user")
    func retentionLimits() {
        let base = "version: 1\nname: t\ndatabase: db\nrules: []\nretention:\n  - collection: s\n    field: at\n"
            + "    olderThan: 30d\n"
        #expect(PolicyTestSupport.load(base + "    action: anonymize\n    pseudonymize: [a]\n").errors.map(\.description)
            == [
                "p.yaml:10:5: error: retention[0].pseudonymize: 'pseudonymize' is not available in retention rules; "
                    + "expected for anonymize in retention rules: set, unset, hash (hint: a pseudonym is one token per "
                    + "user, and retention rules act on everybody's documents without a user; use hash instead)"
            ])
        #expect(PolicyTestSupport.load(base + "    action: pull\n").errors.map(\.description) == [
            "p.yaml:9:13: error: retention[0].action: action 'pull' is not allowed here; expected one of delete, "
                + "anonymize (hint: retention rules apply to everybody's documents by age; pull and retain need a "
                + "user, so they belong under rules)"
        ])
        #expect(PolicyTestSupport.load(base + "    action: delete\n    match: m\n").errors.first?.hint
            == "retention rules apply to everybody's documents by age, so they have no match; per-user rules go "
            + "under rules")
    }

    @Test("system collections and invalid collection names are refused", arguments: [
        ("system.users", "refusing system collection 'system.users'"),
        ("a$b", "invalid collection name 'a$b'"),
        ("\"\"", "empty collection name"),
    ])
    func collections(name: String, message: String) {
        #expect(PolicyTestSupport.load(policy("  - collection: \(name)\n    match: m\n    action: delete\n"))
            .errors.map(\.message) == [message])
    }

    @Test("values in set cannot carry operators")
    func setOperators() {
        #expect(PolicyTestSupport.load(policy(
            "  - collection: c\n    match: m\n    action: anonymize\n    set: { a: { $function: x } }\n"))
            .errors.map(\.message) == ["'$function' is refused as unsafe"])
        #expect(PolicyTestSupport.load(policy(
            "  - collection: c\n    match: m\n    action: anonymize\n    set: { a: { $set: x } }\n"))
            .errors.map(\.message) == ["field name '$set' starts with '$'"])
    }
}
