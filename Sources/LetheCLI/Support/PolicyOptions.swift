import ArgumentParser
import Foundation
import LetheCore
import LetheService

/// Which policies apply. Shared by every command that reads policies.
struct PolicyOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Directory of policy files (*.yaml) (default: $LETHE_POLICIES, else policies).", valueName: "dir"))
    var policies: String = Environment.value("LETHE_POLICIES", default: "policies")

    @Option(name: .long, help: ArgumentHelp("Use only the policy with this name (repeatable). Default: $LETHE_POLICY (names separated by commas), else all.", valueName: "name"))
    var policy: [String] = Environment.list("LETHE_POLICY", separator: ",")

    /// LETHE_HASH_KEY, checked: nil when unset.
    static func hashKey() throws -> SecretKey? {
        guard let text = ProcessInfo.processInfo.environment["LETHE_HASH_KEY"], !text.isEmpty else { return nil }
        do { return try SecretKey(text: text) } catch {
            printError("error: LETHE_HASH_KEY: \(error)")
            throw LetheExit.invalidInput
        }
    }

    /// Loads and validates the policies; prints every problem and exits 65 on errors.
    func load(hashKeyConfigured: Bool) throws -> [Policy] {
        let result = PolicyLoader.load(
            directory: URL(fileURLWithPath: policies),
            options: PolicyLoader.Options(hashKeyConfigured: hashKeyConfigured)
        )
        for diagnostic in result.diagnostics { printError(diagnostic.numberedDescription) }
        if result.hasErrors {
            printError("error: the policies are not valid; nothing was read or changed")
            throw LetheExit.invalidInput
        }
        var selected = result.policies
        if !policy.isEmpty {
            let unknown = policy.filter { name in !selected.contains { $0.name == name } }
            guard unknown.isEmpty else {
                printError("error: no policy named \(unknown.joined(separator: ", ")) in \(policies); known: \(selected.map(\.name).joined(separator: ", "))")
                throw LetheExit.invalidInput
            }
            selected = selected.filter { policy.contains($0.name) }
        }
        return selected
    }
}
