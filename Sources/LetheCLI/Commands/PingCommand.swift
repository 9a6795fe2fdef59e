import ArgumentParser
import MongoKit

struct PingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ping",
        abstract: "Check the connection to MongoDB and print the server's version."
    )

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let pool = try connection.openPool()
        let result = await Result { try await describe(pool) }
        await pool.shutdown()
        print(try result.mapError(report).get())
    }

    /// One line: the hosts, the server's version and its wire version.
    private func describe(_ pool: MongoClientPool) async throws -> String {
        let hello = try await pool.hello()
        let version = await buildVersion(pool)
        let hosts = try connection.connectionString().hosts.joined(separator: ",")
        return "connected to \(hosts) (server version \(version), wire version \(hello["maxWireVersion"]?.intValue ?? 0))"
    }

    private func buildVersion(_ pool: MongoClientPool) async -> String {
        do {
            return try await pool.database("admin").runCommand(["buildInfo": 1])["version"]?.stringValue ?? "unknown"
        } catch {
            return "unknown"
        }
    }
}
