import Foundation

/// Reads policy files, validates them, and reports every problem of every file in
/// one pass.
public enum PolicyLoader {
    /// How policies are checked.
    public struct Options: Sendable, Hashable {
        /// Whether `LETHE_HASH_KEY` holds a key. When false, any `hash` or
        /// `pseudonymize` is an error, since the worker could not carry it out.
        /// Default: false.
        public var hashKeyConfigured: Bool

        public init(hashKeyConfigured: Bool = false) {
            self.hashKeyConfigured = hashKeyConfigured
        }

        /// `hashKeyConfigured` true when `LETHE_HASH_KEY` is set and not empty in
        /// `environment` (by default the process environment). Whether the key is
        /// long enough is checked where it is read, not here.
        public static func fromEnvironment(
            _ environment: [String: String] = ProcessInfo.processInfo.environment
        ) -> Options {
            Options(hashKeyConfigured: !(environment[hashKeyVariable] ?? "").isEmpty)
        }
    }

    /// The environment variable holding the key for `hash` and `pseudonymize`.
    public static let hashKeyVariable = "LETHE_HASH_KEY"

    /// The file extensions read from a policy directory.
    public static let fileExtensions: Set<String> = ["yaml", "yml"]

    /// Loads every `*.yaml` and `*.yml` file directly in `directory` (not in
    /// subdirectories; hidden files skipped), in name order. A missing or empty
    /// directory is an error. Two policies with one `name` are an error in the later
    /// file. File names in diagnostics and `Policy.sourceFile` start with the
    /// directory as given (`URL(fileURLWithPath: "policies")` gives
    /// `policies/todo-app.yaml`).
    public static func load(directory: URL, options: Options = Options()) -> PolicyLoadResult {
        let shownDirectory = directory.relativePath
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        guard fileManager.fileExists(atPath: directory.path, isDirectory: &isDirectory) else {
            return PolicyLoadResult(diagnostics: [
                directoryError(
                    shownDirectory, "policy directory not found",
                    hint: "create it with your policy files, or point Lethe at the directory that holds them"
                )
            ])
        }
        guard isDirectory.boolValue else {
            return PolicyLoadResult(diagnostics: [
                directoryError(shownDirectory, "not a directory", hint: "give the directory that holds the policy files")
            ])
        }
        let names: [String]
        do {
            names = try fileManager.contentsOfDirectory(atPath: directory.path)
        } catch {
            return PolicyLoadResult(diagnostics: [
                directoryError(shownDirectory, "cannot list the policy directory", hint: "check that it is readable")
            ])
        }
        let files = names.filter { name in
            guard !name.hasPrefix("."), fileExtensions.contains((name as NSString).pathExtension.lowercased()) else {
                return false
            }
            var isSubdirectory: ObjCBool = false
            let exists = fileManager.fileExists(
                atPath: directory.appendingPathComponent(name).path, isDirectory: &isSubdirectory)
            return exists && !isSubdirectory.boolValue
        }.sorted()
        guard !files.isEmpty else {
            return PolicyLoadResult(diagnostics: [
                directoryError(
                    shownDirectory, "no policy files in the directory",
                    hint: "add a policy such as policies/todo-app.yaml; see docs/policies.md"
                )
            ])
        }

        var parsed: [FileResult] = []
        for name in files {
            let shownFile = shownDirectory.hasSuffix("/") ? shownDirectory + name : shownDirectory + "/" + name
            parsed.append(parseFile(at: directory.appendingPathComponent(name).path, shownAs: shownFile, options: options))
        }
        return combine(parsed)
    }

    /// Loads the directory at `path`, as written (relative to the working directory).
    public static func load(directoryPath path: String, options: Options = Options()) -> PolicyLoadResult {
        load(directory: URL(fileURLWithPath: path), options: options)
    }

    /// Loads one file; `path` is also how it is named in diagnostics.
    public static func loadFile(path: String, options: Options = Options()) -> PolicyLoadResult {
        combine([parseFile(at: path, shownAs: path, options: options)])
    }

    /// Loads a policy from text; `file` names it in diagnostics and `sourceFile`.
    public static func load(yaml: String, file: String = "<memory>", options: Options = Options()) -> PolicyLoadResult {
        combine([parseText(yaml, file: file, options: options)])
    }

    // MARK: - Internals

    struct FileResult {
        var policy: Policy?
        var diagnostics: [PolicyDiagnostic]
        var declaredName: (name: String, location: SourceLocation)?
    }

    static func parseFile(at path: String, shownAs file: String, options: Options) -> FileResult {
        // Not read at all when larger than a policy may be.
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int,
            size > PolicyLimits.maximumFileBytes
        {
            return FileResult(diagnostics: [
                wholeFileError(file, "the policy file is larger than \(PolicyLimits.maximumFileBytes) bytes",
                               hint: "split it into several policies (one file each), or check that this is a policy file")
            ])
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            return FileResult(diagnostics: [
                wholeFileError(file, "cannot read the policy file", hint: "check that it exists and is readable")
            ])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return FileResult(diagnostics: [
                wholeFileError(file, "the policy file is not UTF-8 text", hint: "save it as UTF-8")
            ])
        }
        return parseText(text, file: file, options: options)
    }

    static func parseText(_ text: String, file: String, options: Options) -> FileResult {
        var parser = PolicyParser(file: file, options: options)
        let policy = parser.parse(text)
        return FileResult(policy: policy, diagnostics: parser.diagnostics, declaredName: parser.declaredName)
    }

    /// Checks names across files and orders the diagnostics.
    static func combine(_ files: [FileResult]) -> PolicyLoadResult {
        var result = PolicyLoadResult()
        var firstUse: [String: SourceLocation] = [:]
        for var file in files {
            if let declared = file.declaredName {
                if let first = firstUse[declared.name] {
                    file.diagnostics.append(PolicyDiagnostic(
                        severity: .error, file: declared.location.file, line: declared.location.line,
                        column: declared.location.column, keyPath: "name",
                        message: "duplicate policy name '\(declared.name)'",
                        expected: "a name no other policy file uses",
                        hint: "'\(declared.name)' is already the name of the policy at \(first); rename one of them"
                    ))
                    file.policy = nil
                } else {
                    firstUse[declared.name] = declared.location
                }
            }
            let ordered = file.diagnostics.enumerated().sorted { a, b in
                (a.element.line, a.element.column, a.offset) < (b.element.line, b.element.column, b.offset)
            }.map(\.element)
            result.diagnostics += ordered
            if let policy = file.policy, !ordered.contains(where: \.isError) {
                result.policies.append(policy)
            }
        }
        // Rules that contradict each other, within a policy or across them: the policy of
        // the later rule of an erroneous pair is refused, as a file with an error is.
        let conflicts = PolicyConflicts.diagnostics(result.policies)
        result.diagnostics += conflicts
        let refused = Set(conflicts.filter(\.isError).map(\.file))
        result.policies.removeAll { refused.contains($0.sourceFile) }
        result.diagnostics += TombstoneKeepAcrossPolicies.diagnostics(result.policies)
        return result
    }

    static func directoryError(_ path: String, _ message: String, hint: String) -> PolicyDiagnostic {
        PolicyDiagnostic(
            severity: .error, file: path, line: 0, column: 0, keyPath: "", message: message,
            expected: "a directory of policy files (*.yaml, *.yml)", hint: hint
        )
    }

    static func wholeFileError(_ path: String, _ message: String, hint: String) -> PolicyDiagnostic {
        PolicyDiagnostic(
            severity: .error, file: path, line: 0, column: 0, keyPath: "", message: message,
            expected: "a readable UTF-8 YAML file", hint: hint
        )
    }
}
