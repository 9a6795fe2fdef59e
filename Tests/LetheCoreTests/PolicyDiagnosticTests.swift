import LetheCore
import Testing

/// Exact texts of the diagnostics: what a policy author reads.
@Suite("Policy: diagnostics")
struct PolicyDiagnosticTests {
    let policy = PolicyTestSupport.policy(rule:)
    let messages = { (yaml: String) in PolicyTestSupport.messages(yaml) }

    @Test("the one-line format: file:line:column: severity: keyPath: message; expected …, (hint: …)")
    func rendering() {
        var diagnostic = PolicyDiagnostic(
            severity: .error, file: "policies/todo.yaml", line: 14, column: 13, keyPath: "rules[2].action",
            message: "unknown action 'delet'", expected: "one of delete, anonymize, pull, retain",
            hint: "did you mean 'delete'?")
        #expect(diagnostic.description == "policies/todo.yaml:14:13: error: rules[2].action: unknown action 'delet'; "
            + "expected one of delete, anonymize, pull, retain (hint: did you mean 'delete'?)")
        #expect(diagnostic.location.description == "policies/todo.yaml:14:13")

        diagnostic.severity = .warning
        diagnostic.keyPath = ""
        diagnostic.expected = nil
        diagnostic.hint = nil
        #expect(diagnostic.description == "policies/todo.yaml:14:13: warning: unknown action 'delet'")

        diagnostic.line = 0
        diagnostic.column = 0
        #expect(diagnostic.description == "policies/todo.yaml: warning: unknown action 'delet'")
    }

    @Test("a misspelled action: did you mean, at the value's line and column")
    func misspelledAction() {
        #expect(messages(policy("  - collection: c\n    match: m\n    action: delet\n")) == [
            "p.yaml:7:13: error: rules[0].action: unknown action 'delet'; expected one of delete, anonymize, pull, "
                + "retain (hint: did you mean 'delete'?)"
        ])
        #expect(messages(policy("  - collection: c\n    match: m\n    action: retian\n")) == [
            "p.yaml:7:13: error: rules[0].action: unknown action 'retian'; expected one of delete, anonymize, pull, "
                + "retain (hint: did you mean 'retain'?)"
        ])
        #expect(messages(policy("  - collection: c\n    match: m\n    action: remove\n")) == [
            "p.yaml:7:13: error: rules[0].action: unknown action 'remove'; expected one of delete, anonymize, pull, "
                + "retain (hint: did you mean 'delete'?)"
        ])
        #expect(messages(policy("  - collection: c\n    match: m\n    action: frobnicate\n")) == [
            "p.yaml:7:13: error: rules[0].action: unknown action 'frobnicate'; expected one of delete, anonymize, "
                + "pull, retain (hint: delete removes documents, anonymize changes fields, pull removes the user's "
                + "ids from an array, retain keeps documents for a stated reason)"
        ])
    }

    @Test("a misspelled key is an error with a suggestion, and is not also reported missing")
    func misspelledKey() {
        #expect(messages(policy("  - colection: c\n    match: m\n    action: delete\n")) == [
            "p.yaml:5:5: error: rules[0].colection: unknown key 'colection'; expected one of collection, match, "
                + "using, where, action, description, set, unset, hash, pseudonymize, reason, until, then "
                + "(hint: did you mean 'collection'?)"
        ])
        #expect(messages("version: 1\nname: t\ndatabse: db\nrules: []\n").first
            == "p.yaml:3:1: error: databse: unknown key 'databse'; expected one of version, name, database, "
            + "description, subject, deadline, maxDocumentsPerRequest, lookups, maxLookupValues, rules, retention, users, tombstones (hint: did you mean 'database'?)")
        #expect(messages("version: 1\nname: t\ndatabase: db\nsubject: { idtype: string }\nrules: []\n").first
            == "p.yaml:4:12: error: subject.idtype: unknown key 'idtype'; expected one of idType, includeIdentities, identifiers "
            + "(hint: did you mean 'idType'?)")
    }

    @Test("a key at the wrong level says where it belongs")
    func misplacedKey() {
        #expect(messages("version: 1\nname: t\ndatabase: db\nidType: string\nrules: []\n").first
            == "p.yaml:4:1: error: idType: unknown key 'idType'; expected one of version, name, database, "
            + "description, subject, deadline, maxDocumentsPerRequest, lookups, maxLookupValues, rules, retention, users, tombstones "
            + "(hint: 'idType' goes under subject, e.g. `subject: { idType: string }`)")
        #expect(messages(policy("  - collection: c\n    match: m\n    action: delete\n    filter: { a: 1 }\n")) == [
            "p.yaml:8:5: error: rules[0].filter: unknown key 'filter'; expected one of collection, match, using, where, "
                + "action, description, set, unset, hash, pseudonymize, reason, until, then "
                + "(hint: did you mean 'where'?)"
        ])
        #expect(messages(policy("  - collection: c\n    match: m\n    action: delete\n    colour: blue\n")) == [
            "p.yaml:8:5: error: rules[0].colour: unknown key 'colour'; expected one of collection, match, using, where, "
                + "action, description, set, unset, hash, pseudonymize, reason, until, then "
                + "(hint: remove it; every key is described in docs/policies.md)"
        ])
    }

    @Test("missing required keys are reported where the mapping starts")
    func missingKeys() {
        #expect(messages(policy("  - { collection: c }\n")) == [
            "p.yaml:5:5: error: rules[0]: missing required key 'match'; expected a field path or a list of field "
                + "paths (hint: add `match: owner_id`)",
            "p.yaml:5:5: error: rules[0]: missing required key 'action'; expected one of delete, anonymize, pull, "
                + "retain (hint: add `action: delete`)",
        ])
        #expect(messages("# a policy\nversion: 1\nrules:\n  - { collection: c, match: m, action: delete }\n") == [
            "p.yaml:2:1: error: missing required key 'name'; expected a policy name of letters, digits, '.', '_' or "
                + "'-' (hint: add `name: todo-app`)",
            "p.yaml:2:1: error: missing required key 'database'; expected a MongoDB database name "
                + "(hint: add `database: todo`)",
        ])
        #expect(messages("name: t\ndatabase: db\n") == [
            "p.yaml:1:1: error: missing required key 'version'; expected the number 1 (hint: add `version: 1`)",
            "p.yaml:1:1: error: missing required key 'rules'; expected a list of rules "
                + "(hint: add `rules: [ { collection: Item, match: owner_id, action: delete } ]`)",
        ])
    }

    @Test("wrong types say what was found and what was expected", arguments: [
        (
            "  - collection: [a, b]\n    match: m\n    action: delete\n",
            "p.yaml:5:17: error: rules[0].collection: wrong type: found a list; expected a collection name "
                + "(hint: write it like `collection: Item`)"
        ),
        (
            "  - collection:\n    match: m\n    action: delete\n",
            "p.yaml:5:16: error: rules[0].collection: no value; expected a collection name "
                + "(hint: write it like `collection: Item`)"
        ),
        (
            "  - collection: c\n    match: { a: 1 }\n    action: delete\n",
            "p.yaml:6:12: error: rules[0].match: wrong type: found a mapping; expected a field path or a list of "
                + "field paths (hint: write it like `match: owner_id`)"
        ),
        (
            "  - collection: c\n    match: [a, [b]]\n    action: delete\n",
            "p.yaml:6:16: error: rules[0].match[1]: wrong type: found a list; expected a field path such as "
                + "author.id (hint: write field paths as text, e.g. `[author.email, author.ip]`)"
        ),
        (
            "  - collection: c\n    match: m\n    action: [delete]\n",
            "p.yaml:7:13: error: rules[0].action: wrong type: found a list; expected one of delete, anonymize, pull, "
                + "retain (hint: write it like `action: delete`)"
        ),
        (
            "  - collection: c\n    match: m\n    action: delete\n    description: { a: 1 }\n",
            "p.yaml:8:18: error: rules[0].description: wrong type: found a mapping; expected text "
                + "(hint: write it like `description: What this is for`)"
        ),
        (
            "  - collection: c\n    match: m\n    action: delete\n    where: [shared]\n",
            "p.yaml:8:12: error: rules[0].where: wrong type: found a list; expected a mapping of field conditions "
                + "(hint: write it like `where: { shared: true }`; leave where out to take every matched document)"
        ),
        (
            "  - Item\n",
            "p.yaml:5:5: error: rules[0]: wrong type: found a string; expected a mapping with collection, match and "
                + "action (hint: write each rule as a mapping, e.g. `- { collection: Item, match: owner_id, "
                + "action: delete }`)"
        ),
    ])
    func wrongTypesInRules(rule: String, expected: String) {
        #expect(messages(policy(rule)) == [expected])
    }

    @Test("wrong types at the top of the file", arguments: [
        (
            "version: \"1\"\nname: t\ndatabase: db\nrules: []\n",
            "p.yaml:1:10: error: version: wrong type: found a string; expected the number 1 "
                + "(hint: remove the quotes: quoted, it is text)"
        ),
        (
            "version: 1\nname: t\ndatabase: db\nsubject: string\nrules: []\n",
            "p.yaml:4:10: error: subject: wrong type: found a string; expected a mapping with idType and "
                + "includeIdentities (hint: write it like `subject: { idType: string }`)"
        ),
        (
            "version: 1\nname: t\ndatabase: db\nsubject: { includeIdentities: yes }\nrules: []\n",
            "p.yaml:4:31: error: subject.includeIdentities: wrong type: found a string; expected true or false "
                + "(hint: write true or false, without quotes)"
        ),
        (
            "version: 1\nname: t\ndatabase: db\nrules: { collection: c }\n",
            "p.yaml:4:8: error: rules: wrong type: found a mapping; expected a list of rules (hint: start each item "
                + "on its own line with '- ', or write `rules: [ { collection: Item, match: owner_id, action: "
                + "delete } ]`)"
        ),
        (
            "version: 1\nname: t\ndatabase: db\nmaxDocumentsPerRequest: 0\nrules: []\n",
            "p.yaml:4:25: error: maxDocumentsPerRequest: maxDocumentsPerRequest must be at least 1, not 0; expected "
                + "a whole number of at least 1 (hint: it is a guard rail: requests that would change more documents "
                + "wait for approval; leave it out for the default of 10000)"
        ),
        (
            "version: 1\nname: t\ndatabase: db\nmaxDocumentsPerRequest: lots\nrules: []\n",
            "p.yaml:4:25: error: maxDocumentsPerRequest: wrong type: found a string; expected a whole number of at "
                + "least 1 (hint: write it like `maxDocumentsPerRequest: 10000`)"
        ),
    ])
    func wrongTypesAtTop(yaml: String, expected: String) {
        #expect(PolicyTestSupport.load(yaml).errors.map(\.description) == [expected])
    }

    @Test("version, name, database and id type values are checked")
    func values() {
        #expect(messages("version: 2\nname: t\ndatabase: db\nrules: []\n").first
            == "p.yaml:1:10: error: version: unsupported version 2; expected 1 (hint: this Lethe reads version 1 "
            + "policies; write `version: 1`, or use the Lethe the file was written for)")
        #expect(messages("version: 1\nname: todo app\ndatabase: db\nrules: []\n").first
            == "p.yaml:2:7: error: name: invalid policy name 'todo app'; expected 1 to 64 letters, digits, '.', '_' "
            + "or '-', starting with a letter or digit (hint: the name appears in receipts and reports, e.g. "
            + "`name: todo-app`)")
        #expect(messages("version: 1\nname: t\ndatabase: my.db\nrules: []\n").first
            == "p.yaml:3:11: error: database: invalid database name 'my.db': it contains '.'; expected a MongoDB "
            + "database name (hint: write the name as `show dbs` lists it, e.g. `database: todo`)")
        #expect(messages("version: 1\nname: t\ndatabase: db\nsubject:\n  idType: ObjectID\nrules: []\n").first
            == "p.yaml:5:11: error: subject.idType: unknown id type 'ObjectID'; expected one of string, objectId, "
            + "uuid, any (hint: did you mean 'objectId'?)")
        #expect(messages("version: 1\nname: t\ndatabase: db\nsubject:\n  idType: int\nrules: []\n").first
            == "p.yaml:5:11: error: subject.idType: unknown id type 'int'; expected one of string, objectId, uuid, "
            + "any (hint: string for text ids such as Atlas App Services user ids, objectId for ObjectIds, uuid for "
            + "UUIDs, any to try each form the id can take)")
    }

    @Test("YAML syntax errors carry the parser's line and column")
    func yamlSyntax() {
        #expect(messages(policy("  - collection: c\n    match: owner_id: x\n    action: delete\n")) == [
            "p.yaml:6:20: error: invalid YAML: mapping values are not allowed in this context (hint: check the "
                + "indentation and quoting here; quote values that contain ': ' or ' #', or start with one of "
                + "{ [ * & ! % @ `)"
        ])
        #expect(messages(policy("  - collection: c\n    match: [a, b\n    action: delete\n")) == [
            "p.yaml:7:11: error: invalid YAML: did not find expected ',' or ']' (hint: while parsing a flow "
                + "sequence at line 6, column 12; check the indentation and quoting here; quote values that "
                + "contain ': ' or ' #', or start with one of { [ * & ! % @ `)"
        ])
    }

    @Test("tabs, several documents, merge keys: said plainly")
    func yamlPitfalls() {
        #expect(messages("version: 1\nname: t\ndatabase: db\nrules:\n\t- { collection: c, match: m, action: delete }\n")
            == [
                "p.yaml:5:1: error: invalid YAML: found character that cannot start any token (hint: indent with "
                    + "spaces: YAML does not allow tabs in indentation)"
            ])
        #expect(messages("version: 1\nname: t\ndatabase: db\nrules: []\n---\nversion: 1\n") == [
            "p.yaml:5:1: error: more than one YAML document in the file; expected one policy per file (hint: move "
                + "the policy after `---` to a file of its own)"
        ])
        #expect(PolicyTestSupport.load(policy("  - <<: { collection: c }\n    match: m\n    action: delete\n"))
            .errors.first?.hint == "YAML merge keys (<<) are not supported; write the keys out")
    }

    @Test("a byte-order mark is ignored, and anchors and aliases work")
    func bomAndAliases() throws {
        let result = PolicyTestSupport.load(
            "\u{FEFF}version: 1\nname: t\ndatabase: db\nrules:\n"
                + "  - &rule { collection: c, match: m, where: { x: 1 }, action: delete }\n  - *rule\n")
        #expect(result.diagnostics.isEmpty)
        let rules = try #require(result.policies.first?.rules)
        #expect(rules.count == 2)
        #expect(rules[0].collection == rules[1].collection)
        #expect(rules[1].index == 1)
    }

    @Test("a key written twice points at the second and names the first")
    func duplicateKey() {
        #expect(messages(policy("  - collection: c\n    match: m\n    action: delete\n    action: anonymize\n")) == [
            "p.yaml:8:5: error: duplicate key 'action'; expected each key once in a mapping (hint: 'action' is "
                + "already set at line 7, column 5; remove one of them)"
        ])
        #expect(messages(policy("  - { collection: c, match: m, collection: d, action: delete }\n")) == [
            "p.yaml:5:32: error: duplicate key 'collection'; expected each key once in a mapping (hint: "
                + "'collection' is already set at line 5, column 7; remove one of them)"
        ])
    }

    @Test("an empty file, and a file that is not a mapping")
    func emptyFile() {
        let empty =
            "p.yaml:1:1: error: empty policy file; expected a mapping with version, name, database and rules "
            + "(hint: start from the example in policies/todo-app.yaml)"
        #expect(messages("") == [empty])
        #expect(messages("# only a comment\n") == [empty])
        #expect(messages("- version: 1\n") == [
            "p.yaml:1:1: error: wrong type: the file holds a list; expected a mapping with version, name, database "
                + "and rules (hint: start from the example in policies/todo-app.yaml)"
        ])
    }

    @Test("retain needs a reason, and until and then come together")
    func retain() {
        #expect(messages(policy("  - collection: c\n    match: m\n    action: retain\n")) == [
            "p.yaml:5:5: error: rules[0]: missing required key 'reason'; expected text saying why the documents are "
                + "kept (hint: retain must say why the documents are kept, e.g. `reason: Commercial records are kept "
                + "for 10 years`; it is recorded in every receipt)"
        ])
        #expect(messages(policy(
            "  - collection: c\n    match: m\n    action: retain\n    reason: law\n"
                + "    until: { field: created_at, after: 1y }\n")) == [
            "p.yaml:9:5: error: rules[0].until: 'until' without 'then'; expected then, saying what happens when the "
                + "retention ends (hint: add e.g. `then: { action: delete }`, or remove until to keep the documents "
                + "indefinitely)"
        ])
        #expect(messages(policy(
            "  - collection: c\n    match: m\n    action: retain\n    reason: law\n    then: { action: delete }\n")) == [
            "p.yaml:9:5: error: rules[0].then: 'then' without 'until'; expected until, saying when the retention "
                + "ends (hint: add e.g. `until: { field: created_at, after: 10y }`, or remove then)"
        ])
        #expect(messages(policy(
            "  - collection: c\n    match: m\n    action: retain\n    reason: law\n"
                + "    until: { field: created_at, after: 1y }\n    then: { action: retain }\n")) == [
            "p.yaml:10:21: error: rules[0].then.action: action 'retain' is not allowed here; expected one of delete, "
                + "anonymize (hint: a retention that never ends needs neither until nor then (remove both); "
                + "pull cannot come later, as it needs the user's ids, which go with the request)"
        ])
        #expect(messages(policy(
            "  - collection: c\n    match: m\n    action: retain\n    reason: law\n"
                + "    until: { field: created_at, after: 1y }\n    then: { action: pull }\n")) == [
            "p.yaml:10:21: error: rules[0].then.action: action 'pull' is not allowed here; expected one of delete, "
                + "anonymize (hint: a retention that never ends needs neither until nor then (remove both); "
                + "pull cannot come later, as it needs the user's ids, which go with the request)"
        ])
        #expect(messages(policy(
            "  - collection: c\n    match: m\n    action: retain\n    reason: law\n    unset: [email]\n")) == [
            "p.yaml:9:5: error: rules[0].unset: 'unset' is not allowed with action 'retain'; expected for action "
                + "'retain': collection, match, using, where, action, description, reason, until, then (hint: retain keeps "
                + "documents untouched; to change them when the retention ends, write the changes under then, e.g. "
                + "`then: { action: anonymize, unset: [email] }`)"
        ])
        #expect(messages(policy(
            "  - collection: c\n    match: m\n    action: delete\n    reason: law\n")) == [
            "p.yaml:8:5: error: rules[0].reason: 'reason' is not allowed with action 'delete'; expected for action "
                + "'delete': collection, match, using, where, action, description (hint: 'reason' belongs to action: retain)"
        ])
    }

    @Test("every problem of a file is reported in one run, in line order")
    func allAtOnce() {
        let yaml = """
            version: 1
            name: bad name
            database: db
            deadline: 3 months
            rules:
              - collection: system.users
                match: _id
                action: delet
              - collection: comments
                match: author..id
                action: anonymize
                unset: [_id]
            retention:
              - collection: sessions
                field: last_seen
                olderThan: 6m
                action: pull
            """
        let result = PolicyTestSupport.load(yaml)
        #expect(result.policies.isEmpty)
        #expect(result.errors.map { "\($0.line):\($0.column) \($0.keyPath)" } == [
            "2:7 name", "4:11 deadline", "6:17 rules[0].collection", "8:13 rules[0].action", "10:12 rules[1].match",
            "12:13 rules[1].unset[0]", "16:16 retention[0].olderThan", "17:13 retention[0].action",
        ])
    }
}
