import Foundation
@testable import LetheCore
import Testing

/// Issue 16, point 6: a policy's size is bounded, as written and once its aliases are
/// expanded, before anything costs in proportion to the expansion.
@Suite("Policy: limits")
struct PolicyLimitsTests {
    /// 775-odd bytes: nine levels of ten aliases each, a `$in` of 10^9 values once expanded.
    static let billionLaughs: String = {
        var yaml = "version: 1\nname: laughs\ndatabase: db\nx0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for level in 1...8 {
            let previous = "*a\(level - 1)"
            yaml += "x\(level): &a\(level) [" + Array(repeating: previous, count: 10).joined(separator: ", ") + "]\n"
        }
        return yaml + "rules:\n  - { collection: c, match: m, where: { status: { $in: *a8 } }, action: delete }\n"
    }()

    @Test("nested aliases that expand to a billion values are refused at once, with the place the limit was passed")
    func billionLaughs() throws {
        #expect(Self.billionLaughs.utf8.count < 1_000)
        let result = PolicyTestSupport.load(Self.billionLaughs)
        let error = try #require(result.errors.first)
        #expect(error.message.hasPrefix("the policy is too large: more than 100000 YAML values"))
        #expect(error.file == "p.yaml" && error.line >= 1 && error.column >= 1)
        #expect(result.policies.isEmpty)
    }

    @Test("the expansion is counted without expanding: a few aliases nested deep are measured in linear steps")
    func measuredWithoutExpanding() throws {
        // 40 levels of two aliases: 2^40 values once expanded; measuring must stop early.
        var yaml = "a0: &a0 [x, x]\n"
        for level in 1...40 { yaml += "a\(level): &a\(level) [*a\(level - 1), *a\(level - 1)]\n" }
        let measure = try #require(try PolicyLimits.measure(yaml: yaml))
        #expect(measure.overLimit?.what == .tooManyNodes)
        #expect(measure.nodes > PolicyLimits.maximumNodes && measure.nodes < 4 * PolicyLimits.maximumNodes)
    }

    @Test("aliases as values still work; an alias inside a key is refused before the YAML is composed")
    func aliasesInKeys() throws {
        let values = PolicyTestSupport.load("version: 1\nname: t\ndatabase: db\nrules:\n"
            + "  - &rule { collection: c, match: m, where: { x: 1 }, action: delete }\n  - *rule\n")
        #expect(!values.hasErrors)
        let inKey = "version: 1\nname: t\ndatabase: db\nbig: &b [a, b]\nrules:\n  - { collection: c, match: m, action: delete, *b : x }\n"
        #expect(PolicyTestSupport.messages(inKey) == [
            "p.yaml:6:48: error: a YAML alias inside a mapping key; expected keys written out as plain text "
                + "(hint: write the key itself; aliases are accepted as values only)"
        ])
        #expect(PolicyLimits.firstAliasInKey(in: "? *b\n: x\n")?.line == 1)
        #expect(PolicyLimits.firstAliasInKey(in: "k: { [*b]: x }\n") != nil)
        #expect(PolicyLimits.firstAliasInKey(in: "*b : x\n") != nil)
        // Text that only looks like an alias.
        #expect(PolicyLimits.firstAliasInKey(in: "reason: \"*b: x\"\nnote: 'it''s *b: y'\nd: |\n  *b: z\n# *b: c\nv: a *b: c\n") == nil)
    }

    @Test("more than 1,000 rules, or a list of more than 10,000 values, is refused with its place")
    func counts() throws {
        func policy(rules: Int) -> String {
            "version: 1\nname: many\ndatabase: db\nrules:\n"
                + (0..<rules).map { "  - { collection: c\($0), match: owner, action: delete }\n" }.joined()
        }
        #expect(!PolicyTestSupport.load(policy(rules: 1_000)).hasErrors)
        #expect(PolicyTestSupport.load(policy(rules: 1_001)).errors.map(\.description) == [
            "p.yaml:5:3: error: rules: 1001 entries in rules; expected at most 1000 entries in rules of one policy "
                + "(hint: split the policy into several files; rules for one collection with one match can usually be merged)"
        ])
        let values = (0...10_000).map { "v\($0)" }.joined(separator: ", ")
        let long = PolicyTestSupport.load("version: 1\nname: t\ndatabase: db\nrules:\n  - { collection: c, match: m, where: { s: { $in: [\(values)] } }, action: delete }\n")
        #expect(long.errors.map(\.message) == ["a list or mapping of 10001 entries"])
    }

    @Test("a file over 1 MiB is refused unread")
    func fileSize() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-limits-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let text = "version: 1\nname: big\ndatabase: db\n# " + String(repeating: "x", count: PolicyLimits.maximumFileBytes) + "\nrules: []\n"
        try text.write(to: directory.appendingPathComponent("big.yaml"), atomically: true, encoding: .utf8)
        let result = PolicyLoader.load(directory: directory)
        #expect(result.errors.map(\.message) == ["the policy file is larger than 1048576 bytes"])
    }

    @Test("five policies of 1,000 rules each load, with every cross-policy check (linear: grouped, never pairwise)")
    func manyRulesAcrossPolicies() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-limits-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for file in 0..<5 {
            let rules = (0..<1_000).map { "  - { collection: c\($0), match: [owner, author.id], action: \($0 % 2 == 0 ? "delete" : "pull") }\n" }.joined()
            try "version: 1\nname: p\(file)\ndatabase: db\(file)\nrules:\n\(rules)"
                .write(to: directory.appendingPathComponent("p\(file).yaml"), atomically: true, encoding: .utf8)
        }
        let result = PolicyLoader.load(directory: directory)
        #expect(result.diagnostics.isEmpty)
        #expect(result.policies.map(\.rules.count) == [1_000, 1_000, 1_000, 1_000, 1_000])
    }
}

