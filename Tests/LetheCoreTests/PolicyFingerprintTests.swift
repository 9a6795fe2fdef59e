import BSON
import LetheCore
import Testing

@Suite("Policy: fingerprint")
struct PolicyFingerprintTests {
    static let base = """
        version: 1
        name: shop
        database: shop
        rules:
          - collection: comments
            match: [author.id, editor.id]
            where: { shared: true, lang: en }
            action: anonymize
            set: { author.name: Deleted user, author.avatar: null }
            pseudonymize: [author.id, editor.id]
          - collection: orders
            match: customer_id
            action: delete
        retention:
          - collection: sessions
            field: last_seen
            olderThan: 180d
            action: delete
        """

    static func fingerprint(_ yaml: String, file: String = "p.yaml") throws -> String {
        let result = PolicyTestSupport.load(yaml, file: file)
        #expect(result.diagnostics.map(\.description) == [])
        return try #require(result.policies.first).fingerprint
    }

    @Test("the form is sha256: and 16 hex digits")
    func form() throws {
        let fingerprint = try Self.fingerprint(Self.base)
        #expect(fingerprint.wholeMatch(of: /sha256:[0-9a-f]{16}/) != nil)
    }

    @Test("comments, key order, layout, descriptions, file names and written defaults do not change it")
    func stable() throws {
        let same = """
            # The shop's policy.
            database: shop     # the database
            name: shop
            version: 1
            description: Anything at all.
            subject: { idType: any, includeIdentities: true }
            deadline: 30d
            maxDocumentsPerRequest: 10000
            retention: [ { action: delete, olderThan: 180d, field: last_seen, collection: sessions } ]
            rules:
              - action: anonymize
                description: Comments stay without their author.
                pseudonymize:
                  - editor.id
                  - author.id
                set:
                  author.avatar: ~
                  author.name: "Deleted user"
                where:
                  lang: en
                  shared: true
                match: [editor.id, author.id]
                collection: comments

              - { collection: orders, match: [customer_id], action: delete }
            """
        #expect(try Self.fingerprint(same, file: "other.yaml") == (try Self.fingerprint(Self.base)))
        #expect(try Self.fingerprint(Self.base) == PolicyTestSupport.load(Self.base, hashKey: true).policies.first?.fingerprint)
    }

    @Test("every change of meaning changes it", arguments: [
        ("collection: orders", "collection: invoices"),
        ("action: delete\nretention", "action: pull\nretention"),
        ("Deleted user", "Deleted"),
        ("author.avatar: null", "author.avatar: \"null\""),
        ("lang: en", "lang: de"),
        ("shared: true", "shared: \"true\""),
        ("pseudonymize: [author.id, editor.id]", "pseudonymize: [author.id]\n    hash: [editor.id]"),
        ("olderThan: 180d", "olderThan: 181d"),
        ("field: last_seen", "field: last_login"),
        ("name: shop", "name: shop2"),
        ("database: shop", "database: shop2"),
        ("version: 1", "version: 1\ndeadline: 45d"),
        ("version: 1", "version: 1\nmaxDocumentsPerRequest: 500"),
        ("version: 1", "version: 1\nsubject: { idType: string }"),
        ("version: 1", "version: 1\nsubject: { includeIdentities: false }"),
        ("match: customer_id", "match: customer_id\n    where: { paid: false }"),
    ])
    func sensitive(original: String, replacement: String) throws {
        #expect(Self.base.contains(original))
        let changed = Self.base.replacingOccurrences(of: original, with: replacement)
        #expect(try Self.fingerprint(changed) != (try Self.fingerprint(Self.base)))
    }

    @Test("rule order is part of it: rules on one collection run in order")
    func order() throws {
        let first = "version: 1\nname: a\ndatabase: d\nrules:\n"
            + "  - { collection: c, match: m, where: { x: 1 }, action: delete }\n"
            + "  - { collection: c, match: m, action: pull }\n"
        let swapped = "version: 1\nname: a\ndatabase: d\nrules:\n"
            + "  - { collection: c, match: m, action: pull }\n"
            + "  - { collection: c, match: m, where: { x: 1 }, action: delete }\n"
        #expect(try Self.fingerprint(first) != (try Self.fingerprint(swapped)))
    }

    @Test("it is computed from the model, so a policy built in code has the same one")
    func fromModel() throws {
        let built = Policy(
            name: "shop", database: "shop",
            rules: [
                ErasureRule(
                    collection: "comments", match: ["editor.id", "author.id"], scope: ["lang": "en", "shared": true],
                    action: .anonymize(Anonymization(
                        set: ["author.avatar": .null, "author.name": "Deleted user"],
                        pseudonymize: ["editor.id", "author.id"]))),
                ErasureRule(index: 1, collection: "orders", match: ["customer_id"], action: .delete),
            ],
            retention: [
                RetentionRule(collection: "sessions", field: "last_seen", olderThan: PolicyDuration(180, .day), action: .delete)
            ])
        #expect(built.fingerprint == (try Self.fingerprint(Self.base)))
    }
}
