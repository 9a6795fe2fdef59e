import BSON
import Foundation
@testable import LetheCore
import Testing

@Suite("Rule statements: the exact filters and updates a rule sends")
struct RuleStatementTests {
    static func policy(_ rulesYAML: String, idType: String = "string") throws -> Policy {
        let yaml = """
        version: 1
        name: p
        database: app
        subject: { idType: \(idType) }
        rules:
        \(rulesYAML)
        """
        let result = PolicyLoader.load(yaml: yaml, file: "p.yaml", options: .init(hashKeyConfigured: true))
        #expect(!result.hasErrors, "\(result.diagnostics)")
        return try #require(result.policies.first)
    }

    static let ids: [BSON] = ["u1", "g-7"]

    @Test("delete: one $in per match path, ORed, ANDed with the author's where")
    func deleteFilter() throws {
        let policy = try Self.policy("""
          - collection: notes
            match: [owner_id, shared_with]
            where: { archived: false }
            action: delete
        """)
        let statement = RuleStatement(policy: policy, rule: policy.rules[0], ids: Self.ids, token: nil)
        // Field conditions at the top, where servers plan them best; operators under `$and`.
        let expected: BSONDocument = [
            "archived": false,
            "$and": [["$or": [["owner_id": ["$in": ["u1", "g-7"]]], ["shared_with": ["$in": ["u1", "g-7"]]]]]],
        ]
        #expect(statement.matchFilter == expected)
        #expect(statement.pendingFilter == expected)
        #expect(statement.namespace == Namespace(database: "app", collection: "notes"))
        guard case .delete = statement.write else { Issue.record("expected a delete"); return }
    }

    @Test("anonymize without hash: one updateMany; pending = matched and not yet anonymized")
    func anonymizeUpdate() throws {
        let policy = try Self.policy("""
          - collection: comments
            match: [author.id, editor.id]
            action: anonymize
            set: { author.name: Deleted user }
            unset: [author.email]
            pseudonymize: [author.id]
        """)
        let statement = RuleStatement(policy: policy, rule: policy.rules[0], ids: Self.ids, token: "anon_t")
        guard case .update(let update) = statement.write else { Issue.record("expected an update"); return }
        #expect(update == ["$set": ["author.name": "Deleted user", "author.id": "anon_t"], "$unset": ["author.email": ""]])
        // editor.id keeps the id after the update: the match alone can't tell what is done.
        #expect(statement.pendingFilter == [
            "$and": [
                ["$or": [["author.id": ["$in": ["u1", "g-7"]]], ["editor.id": ["$in": ["u1", "g-7"]]]]],
                ["$or": [
                    ["author.name": ["$ne": "Deleted user"]],
                    ["author.id": ["$ne": "anon_t"]],
                    ["author.email": ["$exists": true]],
                ]],
            ],
        ])
    }

    @Test("anonymize that replaces or removes every match path: pending = matched", arguments: [
        "pseudonymize: [author.id]", "unset: [author.id]", "set: { author.id: null }",
    ])
    func anonymizeOverwritingMatch(_ change: String) throws {
        let policy = try Self.policy("""
          - collection: comments
            match: author.id
            action: anonymize
            \(change)
        """)
        let statement = RuleStatement(policy: policy, rule: policy.rules[0], ids: Self.ids, token: "anon_t")
        #expect(statement.pendingFilter == ["author.id": ["$in": ["u1", "g-7"]]])
    }

    @Test("anonymize setting a match path to one of the ids, or hashing it: the field states stay in pending", arguments: [
        "set: { author_id: g-7 }", "hash: [author_id]",
    ])
    func anonymizeNotOverwritingMatch(_ change: String) throws {
        // A top-level match: a path through a sub-document that may be an array of
        // documents is written per element (ElementAnonymizeTests).
        let policy = try Self.policy("""
          - collection: comments
            match: author_id
            action: anonymize
            \(change)
        """)
        let statement = RuleStatement(policy: policy, rule: policy.rules[0], ids: Self.ids, token: "anon_t")
        #expect(statement.pendingFilter != statement.matchFilter)
        #expect(statement.pendingFilter["$and"] != nil)
    }

    @Test("anonymize with hash: per-document updates that skip values already hashed")
    func hashUpdates() throws {
        let policy = try Self.policy("""
          - collection: comments
            match: author.id
            action: anonymize
            hash: [author.ip]
            set: { author.name: x }
        """)
        let statement = RuleStatement(policy: policy, rule: policy.rules[0], ids: Self.ids, token: nil)
        guard case .hashEach(let fields, let set, let unset) = statement.write else { Issue.record("expected hashEach"); return }
        let anonymizer = Anonymizer(key: try SecretKey(text: String(repeating: "ab", count: 32)))
        let update = RuleStatement.hashUpdate(for: ["_id": 1, "author": ["ip": "10.0.0.1"]], fields: fields, set: set, unset: unset, anonymizer: anonymizer)
        #expect(update == ["$set": ["author.name": "x", "author.ip": anonymizer.hash("10.0.0.1")]])
        let again = RuleStatement.hashUpdate(for: ["_id": 1, "author": ["ip": anonymizer.hash("10.0.0.1")]], fields: fields, set: [:], unset: [], anonymizer: anonymizer)
        #expect(again == nil)
    }

    @Test("pull: only from arrays, one update per path")
    func pull() throws {
        let policy = try Self.policy("""
          - collection: projects
            match: members
            action: pull
        """)
        let statement = RuleStatement(policy: policy, rule: policy.rules[0], ids: Self.ids, token: nil)
        guard case .pull(let pulls) = statement.write else { Issue.record("expected pull"); return }
        #expect(pulls.count == 1)
        #expect(pulls[0].filter == ["members": ["$elemMatch": ["$in": ["u1", "g-7"]]]])
        #expect(pulls[0].update == ["$pull": ["members": ["$in": ["u1", "g-7"]]]])
        #expect(statement.pendingFilter == ["members": ["$in": ["u1", "g-7"]]])
    }

    @Test("an id that looks like an operator stays a value inside $in")
    func operatorLookingValueStaysValue() throws {
        let policy = try Self.policy("""
          - collection: notes
            match: owner_id
            action: delete
        """)
        let statement = RuleStatement(policy: policy, rule: policy.rules[0], ids: [["$ne": ""]], token: nil)
        #expect(statement.matchFilter == ["owner_id": ["$in": [["$ne": ""]]]])
        #expect(statement.matchFilter.keys == ["owner_id"])
    }
}
