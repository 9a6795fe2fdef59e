import ArgumentParser
import LetheCore

/// The user named on the command line.
struct SubjectOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The deleted user's id, as the auth system gave it.", valueName: "id"))
    var user: String?

    @Option(name: .long, help: ArgumentHelp("Id of a linked identity (repeatable).", valueName: "id"))
    var identity: [String] = []

    @Option(name: .long, help: ArgumentHelp(
        "A named identifier a policy declares (subject.identifiers), as name=value, e.g. email=ada@example.com (repeatable; with or without --user).",
        valueName: "name=value"))
    var identifier: [String] = []

    /// Most `--identifier`s: as many as an event may carry.
    static let maximumIdentifiers = 16

    func validate() throws {
        guard user != nil || !identifier.isEmpty else {
            throw ValidationError("give the user: --user <id>, or --identifier <name>=<value> for a name a policy declares, or both")
        }
        guard identifier.count <= Self.maximumIdentifiers else {
            throw ValidationError("--identifier is given \(identifier.count) times; at most \(Self.maximumIdentifiers)")
        }
        _ = try parsedIdentifiers()
        // The same bound as an event's (DeletionEventParser.Options.maximumIdentities).
        let maximum = DeletionEventParser.Options().maximumIdentities
        guard identity.count <= maximum else {
            throw ValidationError("--identity is given \(identity.count) times; at most \(maximum) identities per user, as for events")
        }
    }

    /// `--identifier name=value` pairs; the value is never repeated in a message.
    func parsedIdentifiers() throws -> [String: String] {
        var identifiers: [String: String] = [:]
        for (position, text) in identifier.enumerated() {
            guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
                throw ValidationError("--identifier #\(position + 1) is not name=value (e.g. email=ada@example.com)")
            }
            let name = String(text[..<equals])
            guard identifiers[name] == nil else { throw ValidationError("--identifier #\(position + 1) repeats a name given before; give each identifier once") }
            identifiers[name] = String(text[text.index(after: equals)...])
        }
        return identifiers
    }

    var subject: ErasureSubject {
        ErasureSubject(userId: user, identities: identity, identifiers: (try? parsedIdentifiers()) ?? [:])
    }
}
