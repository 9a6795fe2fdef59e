import LetheCore
import Testing

/// Warnings: the policy loads, but probably does not do what its author meant.
@Suite("Policy: warnings")
struct PolicyWarningTests {
    let policy = PolicyTestSupport.policy(rule:)

    @Test("a second rule with the same collection and match and no where sees nothing new")
    func overlappingRules() {
        let result = PolicyTestSupport.load(policy(
            "  - { collection: c, match: [a, b], action: delete }\n  - { collection: c, match: [b, a], action: pull }\n"))
        #expect(!result.hasErrors)
        #expect(result.policies.count == 1)
        #expect(result.diagnostics.map(\.description) == [
            "p.yaml:6:5: warning: rules[1]: rules[0] already acts on every document of 'c' with this match; expected "
                + "one rule per collection and match, or a where that splits the documents between them (hint: "
                + "rules[0] deletes them first, so this rule never sees any; merge the rules or add where)"
        ])
        // A where on either rule splits the collection: no warning.
        #expect(PolicyTestSupport.load(policy(
            "  - { collection: c, match: a, where: { x: 1 }, action: delete }\n  - { collection: c, match: a, action: pull }\n"))
            .diagnostics.isEmpty)
        // Another match: no warning.
        #expect(PolicyTestSupport.load(policy(
            "  - { collection: c, match: a, action: delete }\n  - { collection: c, match: b, action: delete }\n"))
            .diagnostics.isEmpty)
    }

    @Test("anonymize that leaves the user's id in the matched field")
    func matchSurvives() {
        let result = PolicyTestSupport.load(policy(
            "  - collection: c\n    match: [owner, author.id]\n    action: anonymize\n    set: { author: null }\n"))
        #expect(!result.hasErrors)
        #expect(result.diagnostics.map(\.description) == [
            "p.yaml:7:13: warning: rules[0].action: anonymized documents keep the user's id in 'owner'; expected "
                + "'owner' in set, unset, hash or pseudonymize (hint: otherwise the documents still point to the "
                + "user; pseudonymize 'owner' to keep one user's documents together without saying who it was)"
        ])
        #expect(PolicyTestSupport.load(policy(
            "  - collection: c\n    match: _id\n    action: anonymize\n    unset: [email]\n")).warnings.first?.hint
            == "_id never changes, so these documents stay linked to the user; delete them instead")
    }

    @Test("no rules, an empty where, and a match path listed twice")
    func smallMistakes() {
        #expect(PolicyTestSupport.messages("version: 1\nname: t\ndatabase: db\nrules: []\n") == [
            "p.yaml:4:8: warning: rules: no rules: this policy erases nothing for a user; expected at least one rule "
                + "(hint: add a rule, e.g. `- { collection: Item, match: owner_id, action: delete }`)"
        ])
        #expect(PolicyTestSupport.messages(policy("  - { collection: c, match: m, where: {}, action: delete }\n")) == [
            "p.yaml:5:39: warning: rules[0].where: empty where; expected at least one field condition (hint: an empty "
                + "where adds no condition; remove it, or write the condition)"
        ])
        let twice = PolicyTestSupport.load(policy("  - { collection: c, match: [m, m], action: delete }\n"))
        #expect(twice.warnings.map(\.message) == ["'m' is listed twice"])
        #expect(twice.policies.first?.rules.first?.match == ["m"])
    }
}
