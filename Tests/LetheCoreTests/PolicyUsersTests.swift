import LetheCore
import Testing

/// `users`: where the orphan sweep finds the existing users.
@Suite("Policy: users")
struct PolicyUsersTests {
    static let head = "version: 1\nname: t\ndatabase: db\nsubject: { includeIdentities: false }\nrules:\n  - { collection: Item, match: owner_id, action: delete }\n"

    @Test("users loads with its defaults: the policy's database, no identities, a grace of 1d")
    func defaults() throws {
        let result = PolicyTestSupport.load(Self.head + "users: { collection: custom_user_data, field: user_id }\n")
        #expect(result.diagnostics.map(\.description) == [])
        let policy = try #require(result.policies.first)
        #expect(policy.users == UsersSpec(collection: "custom_user_data", field: "user_id"))
        #expect(policy.usersNamespace == Namespace(database: "db", collection: "custom_user_data"))
        #expect(policy.users?.effectiveGrace == PolicyDuration(1, .day))
    }

    @Test("every key, written out")
    func everyKey() throws {
        let yaml = Self.head + """
            users:
              database: accounts
              collection: profiles
              field: profile.uid
              identities: identity_ids
              grace: 2w
            """
        let result = PolicyTestSupport.load(yaml)
        #expect(result.diagnostics.map(\.description) == [])
        let policy = try #require(result.policies.first)
        #expect(policy.users == UsersSpec(database: "accounts", collection: "profiles", field: "profile.uid",
                                          identities: "identity_ids", grace: PolicyDuration(2, .week)))
        #expect(policy.usersNamespace?.description == "accounts.profiles")
    }

    @Test("a misspelled key gets a did-you-mean at its line and column; a missing one says what to add")
    func misspelled() {
        #expect(PolicyTestSupport.messages(Self.head + "users: { collection: c, feild: user_id }\n") == [
            "p.yaml:7:25: error: users.feild: unknown key 'feild'; expected one of database, collection, field, "
                + "identities, grace, created (hint: did you mean 'field'?)"
        ])
        #expect(PolicyTestSupport.messages(Self.head + "users: { collection: c }\n") == [
            "p.yaml:7:8: error: users: missing required key 'field'; expected the field of a users document holding "
                + "the user's id (hint: add e.g. `field: user_id`)"
        ])
        // `match` is the rules' word: the hint says what users calls it.
        let match = PolicyTestSupport.messages(Self.head + "users: { collection: c, match: user_id }\n")
        #expect(match.contains(
            "p.yaml:7:25: error: users.match: unknown key 'match'; expected one of database, collection, field, identities, "
                + "grace, created (hint: did you mean 'field'? it names the field of a users document that holds the user's id)"
        ), "\(match)")
    }

    @Test("wrong types and unsafe names are refused, with the key path")
    func refused() {
        let cases: [(String, String)] = [
            ("users: custom_user_data\n", "users: wrong type"),
            ("users: { collection: system.users, field: user_id }\n", "users.collection: refusing system collection"),
            ("users: { collection: c, field: $id }\n", "users.field: field path '$id' starts with '$'"),
            ("users: { collection: c, field: a..b }\n", "users.field: field path 'a..b' has an empty segment"),
            ("users: { collection: c, field: u, database: a.b }\n", "users.database: invalid database name 'a.b'"),
            ("users: { collection: c, field: u, grace: 0d }\n", "users.grace:"),
            ("users: { collection: c, field: u, identities: [a, b] }\n", "users.identities: wrong type"),
        ]
        for (yaml, expected) in cases {
            let messages = PolicyTestSupport.messages(Self.head + yaml)
            #expect(messages.count == 1 && messages[0].contains("error: \(expected)"), "\(yaml) → \(messages)")
            #expect(PolicyTestSupport.load(Self.head + yaml).policies.isEmpty)
        }
    }

    @Test("with includeIdentities and no identities, a warning: identity ids would look orphaned")
    func identitiesWarning() {
        let yaml = "version: 1\nname: t\ndatabase: db\nrules:\n  - { collection: Item, match: owner_id, action: delete }\n"
            + "users: { collection: c, field: user_id }\n"
        let result = PolicyTestSupport.load(yaml)
        #expect(result.policies.count == 1)
        #expect(result.diagnostics.map(\.description) == [
            "p.yaml:6:8: warning: users: identity ids will look orphaned: subject.includeIdentities is true but users has "
                + "no identities; expected users.identities, the field listing each user's identity ids (hint: add e.g. "
                + "`identities: identity_ids` if users documents list them, or set `subject.includeIdentities: false` if "
                + "documents only ever hold user ids)"
        ])
        #expect(PolicyTestSupport.messages(yaml.replacingOccurrences(of: "field: user_id", with: "field: user_id, identities: ids")) == [])
    }

    @Test("fingerprint: unchanged without users; changed by each of its values; the default written out changes nothing")
    func fingerprint() throws {
        func print(_ yaml: String) throws -> String { try #require(PolicyTestSupport.load(yaml).policies.first).fingerprint }
        let without = try print(Self.head)
        // The canonical text of a policy without users is what it was before users existed.
        #expect(without == Policy(name: "t", database: "db", subject: SubjectSpec(includeIdentities: false),
                                  rules: [ErasureRule(collection: "Item", match: ["owner_id"], action: .delete)]).fingerprint)
        let base = Self.head + "users: { collection: c, field: u }\n"
        let with = try print(base)
        #expect(with != without)
        #expect(try print(Self.head + "users: { field: u, collection: c, database: db, grace: 1d }\n") == with)
        for changed in ["users: { collection: c2, field: u }\n", "users: { collection: c, field: u2 }\n",
                        "users: { collection: c, field: u, database: other }\n", "users: { collection: c, field: u, grace: 2d }\n",
                        "users: { collection: c, field: u, identities: ids }\n"] {
            #expect(try print(Self.head + changed) != with, "\(changed)")
        }
    }
}
