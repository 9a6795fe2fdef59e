import Foundation
@testable import LetheCore
import Testing

/// Issue 16, point 8: rules that contradict each other, and match paths that are not text.
@Suite("Policy: conflicting rules")
struct PolicyConflictTests {
    static func directory(_ files: [String: String]) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-conflict-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, text) in files {
            try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return directory
    }

    static let deleting = "version: 1\nname: a-delete\ndatabase: todo\nrules:\n  - { collection: Item, match: owner_id, action: delete }\n"
    static let retaining = "version: 1\nname: b-retain\ndatabase: todo\nrules:\n  - collection: Item\n    match: [owner_id, team]\n    action: retain\n    reason: Kept for audits\n"

    @Test("delete in one policy and retain in another, same collection and match field: an error at the later rule, naming the other")
    func acrossPolicies() throws {
        let directory = try Self.directory(["a.yaml": Self.deleting, "b.yaml": Self.retaining])
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = PolicyLoader.load(directory: directory)
        let shown = directory.relativePath
        #expect(result.errors.map(\.description) == [
            "\(shown)/b.yaml:5:5: error: rules[0]: this rule retains the documents of todo.Item matched on 'owner_id' "
                + "that a-delete rules[0] (\(shown)/a.yaml:5:5) deletes: a document cannot be both retained and changed; "
                + "expected either retain or change the same documents (hint: remove one of the rules, or add a where to each "
                + "that says which documents it takes)"
        ])
        #expect(result.policies.map(\.name) == ["a-delete"])
    }

    @Test("within one policy too; a different database does not conflict")
    func withinOnePolicy() throws {
        let yaml = "version: 1\nname: t\ndatabase: db\nrules:\n  - { collection: c, match: m, action: anonymize, unset: [m] }\n"
            + "  - { collection: c, match: m, action: retain, reason: kept }\n"
        #expect(PolicyTestSupport.load(yaml).errors.map(\.keyPath) == ["rules[1]"])
        let directory = try Self.directory(["a.yaml": Self.deleting, "b.yaml": Self.retaining.replacingOccurrences(of: "database: todo", with: "database: other")])
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(!PolicyLoader.load(directory: directory).hasErrors)
    }

    @Test("different wheres: accepted with a warning, as disjointness cannot be proven; delete beside pull is not a conflict")
    func separatedByWhere() throws {
        let yaml = "version: 1\nname: t\ndatabase: db\nrules:\n  - { collection: c, match: m, where: { open: true }, action: delete }\n"
            + "  - { collection: c, match: m, where: { open: false }, action: retain, reason: kept }\n"
            + "  - { collection: d, match: m, action: delete }\n  - { collection: d, match: [m, n], action: pull }\n"
        let result = PolicyTestSupport.load(yaml)
        #expect(!result.hasErrors)
        #expect(result.warnings.map(\.keyPath) == ["rules[1]"])
        #expect(result.warnings.first?.message.hasSuffix("under a different where; check that no document satisfies both") == true)
    }

    @Test("a match that is a number, a boolean or null is refused with its place; quoted, it is a field name")
    func nonStringMatch() {
        let policy = PolicyTestSupport.policy(rule:)
        #expect(PolicyTestSupport.messages(policy("  - collection: c\n    match: 5\n    action: delete\n")) == [
            "p.yaml:6:12: error: rules[0].match: wrong type: found a number; expected a field path such as owner_id or author.id, "
                + "as text (hint: a field path is text; if the field's name really is `5`, quote it: \"5\")"
        ])
        #expect(PolicyTestSupport.load(policy("  - { collection: c, match: [a, true], action: delete }\n")).errors.map(\.keyPath) == ["rules[0].match[1]"])
        #expect(!PolicyTestSupport.load(policy("  - { collection: c, match: \"5\", action: delete }\n")).hasErrors)
        #expect(PolicyTestSupport.load(policy("  - { collection: c, match: m, action: retain, reason: r, until: { field: 12, after: 1y }, then: { action: delete } }\n"))
            .errors.map(\.keyPath) == ["rules[0].until.field"])
    }
}
