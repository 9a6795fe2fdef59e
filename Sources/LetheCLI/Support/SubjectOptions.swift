import ArgumentParser
import LetheCore

/// The user named on the command line.
struct SubjectOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The deleted user's id, as the auth system gave it.", valueName: "id"))
    var user: String

    @Option(name: .long, help: ArgumentHelp("Id of a linked identity (repeatable).", valueName: "id"))
    var identity: [String] = []

    func validate() throws {
        // The same bound as an event's (DeletionEventParser.Options.maximumIdentities).
        let maximum = DeletionEventParser.Options().maximumIdentities
        guard identity.count <= maximum else {
            throw ValidationError("--identity is given \(identity.count) times; at most \(maximum) identities per user, as for events")
        }
    }

    var subject: ErasureSubject { ErasureSubject(userId: user, identities: identity) }
}
