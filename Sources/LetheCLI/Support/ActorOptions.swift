import ArgumentParser
import Foundation

/// Who acts, for the audit trail of what a person does (holds, approvals, retries).
struct ActorOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Who acts, as the audit trail records it (default: $LETHE_ACTOR, else the operating-system user).", valueName: "name"))
    var actor: String?

    /// The actor: the flag, else `LETHE_ACTOR`, else the operating-system user.
    var name: String {
        actor ?? ProcessInfo.processInfo.environment["LETHE_ACTOR"] ?? ProcessInfo.processInfo.userName
    }

    func validate() throws {
        let name = self.name
        guard !name.isEmpty, name.utf8.count <= 128 else {
            throw ValidationError("--actor (or LETHE_ACTOR) must be 1 to 128 bytes: an operator's name, not a user's data")
        }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw ValidationError("--actor (or LETHE_ACTOR) cannot contain control characters")
        }
    }
}
