import BSON
import Foundation
import LetheCore
import Testing

@Suite("Policy: the documented example")
struct PolicyExampleTests {
    @Test("the example from the format description loads into exactly this model")
    func exampleModel() throws {
        let directory = try PolicyTestSupport.fixtures.appendingPathComponent("example")
        let result = PolicyLoader.load(directory: directory, options: .init(hashKeyConfigured: true))
        let policy = try #require(result.policies.first)
        #expect(result.policies.count == 1)
        #expect(!result.hasErrors)
        let file = policy.sourceFile
        #expect(file.hasSuffix("/example/todo.yaml"))
        func at(_ line: Int, _ column: Int) -> PolicySourceLocation { PolicySourceLocation(file: file, line: line, column: column) }

        let expected = Policy(
            version: 1, name: "todo-app", database: "todo",
            subject: SubjectSpec(idType: .string, includeIdentities: true),
            deadline: PolicyDuration(30, .day), maxDocumentsPerRequest: nil,
            rules: [
                ErasureRule(index: 0, collection: "Item", match: ["owner_id"], action: .delete, location: at(9, 5)),
                ErasureRule(
                    index: 1, collection: "custom_user_data", match: ["user_id"], action: .delete, location: at(12, 5)),
                ErasureRule(
                    index: 2, collection: "comments", match: ["author.id"],
                    action: .anonymize(Anonymization(
                        set: ["author.name": "Deleted user"], unset: ["author.email"], hash: ["author.ip"],
                        pseudonymize: ["author.id"])),
                    location: at(15, 5)),
                ErasureRule(index: 3, collection: "projects", match: ["members"], action: .pull, location: at(22, 5)),
                ErasureRule(
                    index: 4, collection: "orders", match: ["customer_id"],
                    action: .retain(Retention(
                        reason: "Commercial records are kept for 10 years",
                        until: RetentionDeadline(field: "created_at", after: PolicyDuration(10, .year)),
                        then: .anonymize(Anonymization(set: ["shipping_address": .null])))),
                    location: at(25, 5)),
                ErasureRule(
                    index: 5, collection: "shared_docs", match: ["owner_id"], scope: ["shared": true],
                    action: .anonymize(Anonymization(set: ["owner_id": .null])), location: at(31, 5)),
            ],
            retention: [
                RetentionRule(
                    index: 0, collection: "sessions", field: "last_seen", olderThan: PolicyDuration(180, .day),
                    action: .delete, location: at(37, 5))
            ],
            sourceFile: file)
        #expect(policy == expected)
        #expect(policy.effectiveDeadline == PolicyDuration(30, .day))
        #expect(policy.effectiveMaxDocumentsPerRequest == Policy.defaultMaxDocumentsPerRequest)
        #expect(Policy.defaultMaxDocumentsPerRequest == 10_000)
        #expect(policy.collections == ["Item", "custom_user_data", "comments", "projects", "orders", "shared_docs", "sessions"])

        // The retained orders keep customer_id after `then`, which the loader points out.
        #expect(result.diagnostics.map(\.description) == [
            "\(file):30:21: warning: rules[4].then.action: anonymized documents keep the user's id in 'customer_id'; "
                + "expected 'customer_id' in set, unset, hash or pseudonymize (hint: otherwise the documents still "
                + "point to the user; pseudonymize 'customer_id' to keep one user's documents together without "
                + "saying who it was)"
        ])
    }

    @Test("the example refuses to load without LETHE_HASH_KEY, at each hash and pseudonymize")
    func exampleWithoutKey() throws {
        let directory = try PolicyTestSupport.fixtures.appendingPathComponent("example")
        let result = PolicyLoader.load(directory: directory, options: .init(hashKeyConfigured: false))
        #expect(result.policies.isEmpty)
        #expect(result.errors.map { "\($0.line):\($0.column) \($0.keyPath)" } == [
            "20:5 rules[2].hash", "21:5 rules[2].pseudonymize",
        ])
        #expect(result.errors.allSatisfy { $0.message.contains("LETHE_HASH_KEY") && $0.hint?.contains("openssl rand -hex 32") == true })
    }

    @Test("policies/todo-app.yaml, used by the README demo, loads without errors or warnings")
    func shippedExample() throws {
        // The shipped example is a product file, not a test fixture: found from this
        // source file's place in the package.
        let packageRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let result = PolicyLoader.load(
            directory: packageRoot.appendingPathComponent("policies"), options: .init(hashKeyConfigured: true))
        #expect(result.diagnostics.map(\.description) == [])
        let policy = try #require(result.policy(named: "todo-app"))
        #expect(policy.database == "todo")
        #expect(policy.subject == SubjectSpec(idType: .string, includeIdentities: true))
        let actions = Set(policy.rules.map(\.action.name) + policy.retention.map(\.action.name))
        #expect(actions == Set(RuleAction.names), "every action is shown")
        #expect(policy.rules.first?.collection == "Item")
        #expect(policy.rules.first?.match == ["owner_id"])
        #expect(policy.rules.contains { $0.collection == "custom_user_data" && $0.match == ["user_id"] })

        let withoutKey = PolicyLoader.load(
            directory: packageRoot.appendingPathComponent("policies"), options: .init(hashKeyConfigured: false))
        #expect(withoutKey.hasErrors, "it pseudonymizes, so the demo must set LETHE_HASH_KEY")
    }
}
