internal import CMongoC
import BSON

/// A database handle. Like `MongoCollection`, it holds no connection.
public struct MongoDatabase: Sendable {
    public let pool: MongoClientPool
    public let name: String

    public init(pool: MongoClientPool, name: String) {
        self.pool = pool
        self.name = name
    }

    public func collection(_ name: String) -> MongoCollection {
        MongoCollection(pool: pool, databaseName: self.name, name: name)
    }

    /// How libmongoc should route and decorate a command.
    public enum CommandKind: Sendable {
        /// Sent as given (`mongoc_client_command_with_opts`).
        case plain
        /// Gets the client's read concern and preference.
        case read
        /// Gets the client's write concern.
        case write
    }

    /// Runs any command and returns the server's reply; a reply with `ok: 0` throws.
    @discardableResult
    public func runCommand(_ command: BSONDocument, kind: CommandKind = .plain) async throws -> BSONDocument {
        try await runCommand(command, kind: kind, operation: command.keys.first ?? "command", namespace: name)
    }

    func runCommand(_ command: BSONDocument, kind: CommandKind, operation: String, namespace: String) async throws -> BSONDocument {
        let database = name
        let mode: Int32 = switch kind {
        case .plain: Int32(LETHE_CMD_PLAIN)
        case .read: Int32(LETHE_CMD_READ)
        case .write: Int32(LETHE_CMD_WRITE)
        }
        return try await pool.withClient(operation: operation) { client in
            var error = bson_error_t()
            var ok = false
            let reply = withBSON(command) { c in lethe_client_command(client, database, c, nil, mode, &error, &ok) }
            var document = BSONDocument()
            if let reply {
                do throws(BSONDecodingError) {
                    document = try OwnedBSON(taking: reply).document()
                } catch {
                    throw MongoError.decoding(error, operation: operation, namespace: namespace)
                }
            }
            guard ok else { throw MongoError(error, operation: operation, namespace: namespace, reply: document) }
            return document
        }
    }

    /// `listCollections`: one document per collection (`{name, type, options, ...}`).
    public func listCollections(filter: BSONDocument? = nil) async throws -> [BSONDocument] {
        let lease = try await pool.lease(operation: "listCollections")
        let (database, namespace) = (name, name)
        let opts: BSONDocument = filter.map { ["filter": .document($0)] } ?? [:]
        let handles = try await lease.run(operation: "listCollections") { client in
            let db = mongoc_client_get_database(client, database)!
            let cursor = withBSON(opts) { mongoc_database_find_collections_with_opts(db, $0)! }
            return CursorHandles(cursor: cursor, parent: db)
        }
        let cursor = MongoCursor(box: CursorBox(
            lease: lease, cursor: handles.cursor, parent: handles.parent, parentIsDatabase: true,
            prefetch: 1000, operation: "listCollections", namespace: namespace
        ))
        return try await cursor.toArray()
    }

    public func listCollectionNames() async throws -> [String] {
        try await listCollections().compactMap { $0["name"]?.stringValue }
    }

    public func drop() async throws {
        try await runCommand(["dropDatabase": 1], kind: .write)
    }
}

extension MongoClientPool {
    public func database(_ name: String) -> MongoDatabase { MongoDatabase(pool: self, name: name) }

    /// Round trip to the server: `{ping: 1}` on `admin`. Fails after the server-selection
    /// timeout when no server answers, with a message naming the hosts tried.
    public func ping() async throws {
        try await database("admin").runCommand(["ping": 1])
    }

    /// The server's `hello` reply (topology, versions, limits).
    public func hello() async throws -> BSONDocument {
        try await database("admin").runCommand(["hello": 1])
    }
}
