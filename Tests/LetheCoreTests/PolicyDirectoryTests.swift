import Foundation
import LetheCore
import Testing

@Suite("Policy: loading a directory")
struct PolicyDirectoryTests {
    @Test("all errors of all files in one run, in file order; good files still load")
    func multipleFiles() throws {
        // Relative to the fixtures, so that file names read as they would for `policies/`.
        let directory = URL(fileURLWithPath: "multi", relativeTo: try PolicyTestSupport.fixtures)
        let result = PolicyLoader.load(directory: directory, options: .init(hashKeyConfigured: false))
        #expect(result.hasErrors)
        #expect(result.policies.map(\.name) == ["good", "other"])
        #expect(result.policies.map(\.sourceFile) == ["multi/b-good.yml", "multi/e-other.yaml"])
        #expect(result.policies.map(\.database) == ["shop", "shop"], "two policies may share a database")
        #expect(result.diagnostics.map(\.description) == [
            "multi/a-bad.yaml:7:13: error: rules[0].action: unknown action 'delet'; expected one of delete, anonymize, "
                + "pull, retain (hint: did you mean 'delete'?)",
            "multi/a-bad.yaml:9:12: error: rules[1].match: empty match; expected a field path such as owner_id or "
                + "author.id (hint: a rule must say which field holds the user's id; an empty path selects nothing it "
                + "could prove is the user's)",
            "multi/c-same-name.yaml:3:7: error: name: duplicate policy name 'good'; expected a name no other policy "
                + "file uses (hint: 'good' is already the name of the policy at multi/b-good.yml:2:7; rename one of "
                + "them)",
            "multi/d-syntax.yaml:7:11: error: invalid YAML: did not find expected ',' or ']' (hint: while parsing a "
                + "flow sequence at line 6, column 12; check the indentation and quoting here; quote values that "
                + "contain ': ' or ' #', or start with one of { [ * & ! % @ `)",
        ])
    }

    @Test("a missing directory, an empty one, and a file instead of a directory are clear errors")
    func badDirectories() throws {
        let missing = PolicyLoader.load(directoryPath: "no/such/policies")
        #expect(missing.diagnostics.map(\.description) == [
            "no/such/policies: error: policy directory not found; expected a directory of policy files (*.yaml, "
                + "*.yml) (hint: create it with your policy files, or point Lethe at the directory that holds them)"
        ])

        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-empty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        try Data("not yaml".utf8).write(to: empty.appendingPathComponent("README.md"))
        let none = PolicyLoader.load(directory: empty)
        #expect(none.diagnostics.map(\.description) == [
            "\(empty.path): error: no policy files in the directory; expected a directory of policy files (*.yaml, "
                + "*.yml) (hint: add a policy such as policies/todo-app.yaml; see docs/policies.md)"
        ])
        #expect(none.hasErrors)

        let file = URL(fileURLWithPath: "multi/b-good.yml", relativeTo: try PolicyTestSupport.fixtures)
        #expect(PolicyLoader.load(directory: file).errors.map(\.message) == ["not a directory"])
    }

    @Test("one file can be loaded by path")
    func singleFile() throws {
        let file = URL(fileURLWithPath: "multi/b-good.yml", relativeTo: try PolicyTestSupport.fixtures)
        let result = PolicyLoader.loadFile(path: file.path)
        #expect(result.diagnostics.isEmpty)
        #expect(result.policies.map(\.sourceFile) == [file.path])
        #expect(PolicyLoader.loadFile(path: "/no/such/file.yaml").errors.map(\.description) == [
            "/no/such/file.yaml: error: cannot read the policy file; expected a readable UTF-8 YAML file "
                + "(hint: check that it exists and is readable)"
        ])
    }
}
