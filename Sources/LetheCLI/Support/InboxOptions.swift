import ArgumentParser
import LetheCore
import LetheService

/// The inbox collection producers insert deletion events into (`run --once`, `serve`).
struct InboxOptions: ParsableArguments {
    typealias Namespace = (database: String, collection: String)

    @Option(name: .long, help: ArgumentHelp("The inbox collection producers insert events into (default: $LETHE_INBOX, else <state-db>.inbox).", valueName: "db.collection"))
    var inbox: String?

    /// The flag alone against the state database: DATABASE.COLLECTION, and none of Lethe's
    /// own records (exit 64). Called by the command's `validate()`, which knows both.
    func validate(stateDatabase: String) throws {
        if let inbox = value, !inbox.contains(".") {
            throw ValidationError("--inbox must be DATABASE.COLLECTION, such as \(stateDatabase).inbox")
        }
        let namespace = namespace(stateDatabase: stateDatabase)
        if let problem = LetheNamespaces.checkInbox(database: namespace.database, collection: namespace.collection,
                                                     stateDatabase: stateDatabase, policies: []) {
            throw ValidationError(problem.description)
        }
    }

    /// `--inbox`, else `LETHE_INBOX`.
    var value: String? { inbox ?? Environment.text("LETHE_INBOX") }

    /// The inbox as (database, collection).
    func namespace(stateDatabase: String) -> Namespace {
        guard let inbox = value, let dot = inbox.firstIndex(of: ".") else { return (stateDatabase, inbox ?? "inbox") }
        return (String(inbox[..<dot]), String(inbox[inbox.index(after: dot)...]))
    }

    /// The inbox consumer: refused documents kept in `<state-db>.inboxRejected`.
    func consumer(_ runtime: LetheRuntime, stateDatabase: String) -> InboxConsumer {
        let inbox = namespace(stateDatabase: stateDatabase)
        return InboxConsumer(
            collection: runtime.pool.database(inbox.database).collection(inbox.collection),
            intake: RequestIntake(engine: runtime.engine),
            rejected: runtime.pool.database(stateDatabase).collection(LetheNamespaces.inboxRejectedCollection)
        )
    }
}
