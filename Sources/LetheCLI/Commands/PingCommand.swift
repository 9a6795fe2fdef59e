import ArgumentParser
import MongoKit

struct PingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ping",
        abstract: "Check the connection to MongoDB and print the server's version."
    )

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let pool: MongoClientPool
        do { pool = try connection.makePool() } catch { throw report(error) }
        do {
            let hello = try await pool.hello()
            let build = try? await pool.database("admin").runCommand(["buildInfo": 1])
            let version = build?["version"]?.stringValue ?? "unknown"
            print("connected to \(try connection.connectionString().hosts.joined(separator: ","))"
                + " (server version \(version), wire version \(hello["maxWireVersion"]?.intValue ?? 0))")
            await pool.shutdown()
        } catch {
            await pool.shutdown()
            throw report(error)
        }
    }
}
