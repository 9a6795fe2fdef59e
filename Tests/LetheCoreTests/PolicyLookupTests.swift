import LetheCore
import Testing

/// `subject.identifiers`, `lookups`, `using` and `maxLookupValues`.
@Suite("Policy: lookups, identifiers and using")
struct PolicyLookupTests {
    static let issueExample = """
        version: 1
        name: blog
        database: blog
        subject:
          idType: objectId
          identifiers: [email]
        lookups:
          accounts: { collection: customers, match: _id, field: accounts }
          userId:   { collection: users, match: email, using: email, field: _id }
          posts:    { collection: posts, match: authorId, field: _id }
        rules:
          - { collection: accounts, match: account_id, using: accounts, action: delete }
          - { collection: comments, match: post_id, using: posts, action: delete }
          - { collection: users, match: _id, using: [user, userId], action: delete }
          - { collection: threads, match: participants.userId, action: pull }
        """

    @Test("the issue's example loads: identifiers, lookups with their defaults, using on rules, match: _id")
    func example() throws {
        let result = PolicyTestSupport.load(Self.issueExample)
        #expect(result.diagnostics.filter { $0.severity == .error }.map(\.description) == [])
        let policy = try #require(result.policies.first)
        #expect(policy.subject.identifiers == ["email"])
        #expect(policy.lookups.map(\.name) == ["accounts", "userId", "posts"])
        #expect(policy.lookup(named: "accounts")?.using == ["user"])
        #expect(policy.lookup(named: "userId")?.using == ["email"])
        #expect(policy.lookup(named: "accounts")?.match == ["_id"])
        #expect(policy.lookup(named: "accounts")?.location.line == 8)
        #expect(policy.rules.map(\.using) == [["accounts"], ["posts"], ["user", "userId"], ["user"]])
        #expect(policy.effectiveMaxLookupValues == 10_000)
    }

    @Test("a policy without the new keys keeps its fingerprint; each new key changes it")
    func fingerprint() throws {
        let plain = "version: 1\nname: t\ndatabase: db\nrules:\n  - { collection: Item, match: owner_id, action: delete }\n"
        let before = try #require(PolicyTestSupport.load(plain).policies.first).fingerprint
        let explicitUser = plain.replacingOccurrences(of: "match: owner_id,", with: "match: owner_id, using: user,")
        #expect(try #require(PolicyTestSupport.load(explicitUser).policies.first).fingerprint == before)
        let withIdentifiers = plain.replacingOccurrences(of: "rules:", with: "subject: { identifiers: [email] }\nrules:")
        #expect(try #require(PolicyTestSupport.load(withIdentifiers).policies.first).fingerprint != before)
        let using = withIdentifiers.replacingOccurrences(of: "match: owner_id,", with: "match: owner_id, using: email,")
        #expect(try #require(PolicyTestSupport.load(using).policies.first).fingerprint
            != PolicyTestSupport.load(withIdentifiers).policies.first?.fingerprint)
        let bound = Self.issueExample.replacingOccurrences(of: "lookups:", with: "maxLookupValues: 5\nlookups:")
        #expect(try #require(PolicyTestSupport.load(bound).policies.first).fingerprint
            != PolicyTestSupport.load(Self.issueExample).policies.first?.fingerprint)
    }

    @Test("an unknown name in using: file:line:column and a did-you-mean")
    func unknownName() {
        let yaml = Self.issueExample.replacingOccurrences(of: "using: accounts,", with: "using: acounts,")
        let messages = PolicyTestSupport.messages(yaml)
        #expect(messages.contains { $0.hasPrefix("p.yaml:12:") && $0.contains("unknown name 'acounts' in using") && $0.contains("did you mean 'accounts'?") })
        let undeclared = Self.issueExample.replacingOccurrences(of: "using: email,", with: "using: phone,")
        #expect(PolicyTestSupport.messages(undeclared).contains { $0.contains("unknown name 'phone'") && $0.contains("identifiers: [phone]") })
    }

    @Test("a cycle of lookups is an error naming the cycle at the lookup's line")
    func cycle() {
        let yaml = """
            version: 1
            name: t
            database: db
            lookups:
              a: { collection: x, match: k, using: b, field: v }
              b: { collection: y, match: k, using: a, field: v }
              c: { collection: z, match: k, using: c, field: v }
            rules:
              - { collection: Item, match: owner_id, using: a, action: delete }
            """
        let messages = PolicyTestSupport.messages(yaml)
        #expect(messages.contains { $0.hasPrefix("p.yaml:5:") && $0.contains("uses itself: a → b → a") })
        #expect(messages.contains { $0.hasPrefix("p.yaml:7:") && $0.contains("uses itself: c → c") })
        #expect(PolicyTestSupport.load(yaml).policies.isEmpty)
    }

    @Test("lookup keys: missing field, unknown key with did-you-mean, bad names, maxLookupValues at least 1")
    func lookupKeys() {
        let head = "version: 1\nname: t\ndatabase: db\n"
        let rules = "rules:\n  - { collection: Item, match: owner_id, action: delete }\n"
        #expect(PolicyTestSupport.messages(head + "lookups:\n  a: { collection: x, match: k }\n" + rules)
            .contains { $0.contains("missing required key 'field'") })
        #expect(PolicyTestSupport.messages(head + "lookups:\n  a: { collection: x, match: k, feild: v }\n" + rules)
            .contains { $0.contains("unknown key 'feild'") && $0.contains("did you mean 'field'?") })
        #expect(PolicyTestSupport.messages(head + "lookups:\n  user: { collection: x, match: k, field: v }\n" + rules)
            .contains { $0.contains("'user' cannot name a lookup") })
        #expect(PolicyTestSupport.messages(head + "lookups:\n  1a: { collection: x, match: k, field: v }\n" + rules)
            .contains { $0.contains("invalid lookup name '1a'") })
        #expect(PolicyTestSupport.messages(head + "subject: { identifiers: [e-mail] }\n" + rules)
            .contains { $0.contains("invalid identifier name 'e-mail'") })
        #expect(PolicyTestSupport.messages(head + "maxLookupValues: 0\n" + rules)
            .contains { $0.contains("maxLookupValues must be at least 1") })
        #expect(PolicyTestSupport.messages(head + "lookups:\n  a: { collection: x, match: k, field: v, action: delete }\n" + rules)
            .contains { $0.contains("a lookup only reads") })
        #expect(PolicyTestSupport.messages(head + "identifiers: [email]\n" + rules)
            .contains { $0.contains("'identifiers' goes under subject") })
    }

    @Test("two rules on one collection and match with different using do not overlap")
    func overlapByUsing() {
        let yaml = """
            version: 1
            name: t
            database: db
            subject: { identifiers: [email] }
            rules:
              - { collection: s, match: user_id, action: delete }
              - { collection: s, match: user_id, using: email, action: delete }
            """
        #expect(PolicyTestSupport.messages(yaml) == [])
    }
}
