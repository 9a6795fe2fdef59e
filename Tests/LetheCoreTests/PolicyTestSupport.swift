import Foundation
import LetheCore

/// Loading helpers for the policy tests.
enum PolicyTestSupport {
    /// Loads `yaml` as the file `p.yaml`, with `LETHE_HASH_KEY` set unless told otherwise.
    static func load(_ yaml: String, file: String = "p.yaml", hashKey: Bool = true) -> PolicyLoadResult {
        PolicyLoader.load(yaml: yaml, file: file, options: PolicyLoader.Options(hashKeyConfigured: hashKey))
    }

    /// The rendered diagnostics of `yaml`.
    static func messages(_ yaml: String, hashKey: Bool = true) -> [String] {
        load(yaml, hashKey: hashKey).diagnostics.map(\.description)
    }

    /// A valid policy whose only rule is `rule` (written from line 5, indented as a
    /// list item), so that the rule's lines are 5, 6, 7, …
    static func policy(rule: String) -> String {
        "version: 1\nname: t\ndatabase: db\nrules:\n" + rule
    }

    static var fixtures: URL {
        get throws {
            guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
                throw FixtureMissing()
            }
            return url
        }
    }

    struct FixtureMissing: Error {}
}

/// `SourceLocation` is also a Swift Testing type, and `LetheCore.SourceLocation`
/// names a member of the `LetheCore` enum; this file imports no Testing, so the
/// alias is unambiguous.
typealias PolicySourceLocation = SourceLocation
