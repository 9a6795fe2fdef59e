import ArgumentParser
import Foundation
import MongoKit

/// Where the data lives. Shared by every command that talks to MongoDB.
struct ConnectionOptions: ParsableArguments {
    static let defaultURI = "mongodb://127.0.0.1:27017/?directConnection=true"

    @Option(name: .long, help: ArgumentHelp(
        "MongoDB connection string (default: $LETHE_MONGODB_URI, else \(Self.defaultURI)).",
        valueName: "uri"))
    var uri: String?

    @Option(name: .long, help: "Server selection timeout in milliseconds: how long to wait for an unreachable server.")
    var serverSelectionTimeoutMs: Int = Environment.value("LETHE_SERVER_SELECTION_TIMEOUT_MS", default: 10_000)

    func validate() throws {
        try Environment.check("LETHE_SERVER_SELECTION_TIMEOUT_MS", as: Int.self, flag: "--server-selection-timeout-ms")
        guard serverSelectionTimeoutMs > 0 else {
            throw ValidationError("--server-selection-timeout-ms must be a positive number of milliseconds")
        }
    }

    /// The URI to use, with our selection timeout added unless the URI sets its own.
    func connectionString() throws -> ConnectionString {
        var raw = uri ?? ProcessInfo.processInfo.environment["LETHE_MONGODB_URI"] ?? Self.defaultURI
        // Checked as given first, so that errors quote what the person wrote.
        _ = try ConnectionString(raw)
        if !raw.lowercased().contains("serverselectiontimeoutms") {
            raw += (raw.contains("?") ? "&" : (raw.hasSuffix("/") ? "?" : "/?")) + "serverSelectionTimeoutMS=\(serverSelectionTimeoutMs)"
        }
        return try ConnectionString(raw)
    }

    func makePool() throws -> MongoClientPool {
        try MongoClientPool(connectionString(), options: .init(maximumSize: 4))
    }

    /// `makePool`, with a failure reported to the person and turned into its exit code.
    func openPool() throws -> MongoClientPool {
        do { return try makePool() } catch { throw report(error) }
    }
}
