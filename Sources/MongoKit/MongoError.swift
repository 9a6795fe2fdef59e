internal import CMongoC
import BSON

/// The one error type of the MongoDB layer.
///
/// `description` is safe to log: it names the operation, the namespace, the codes and
/// a message written by this layer or by libmongoc's client side. The server's own
/// message can quote filter values or documents (a duplicate-key error quotes the
/// key), so it is kept in `detail` and shown only by `debugDescription`.
public struct MongoError: Error, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// A stable classification. New codes may be added; callers switch with a default.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The connection string could not be parsed.
        public static let invalidURI = Code("invalid-uri")
        /// No server could be selected before the server-selection timeout.
        public static let serverSelectionFailed = Code("server-selection-failed")
        /// A network error on an established connection (reset, timeout).
        public static let connectionFailed = Code("connection-failed")
        /// The server refused the credentials.
        public static let authenticationFailed = Code("authentication-failed")
        /// The server answered a command with an error (see `serverCode`).
        public static let commandFailed = Code("command-failed")
        /// One or more writes failed (see `writeErrors`).
        public static let writeFailed = Code("write-failed")
        /// A write hit a unique index (server code 11000).
        public static let duplicateKey = Code("duplicate-key")
        /// The write concern could not be satisfied.
        public static let writeConcernFailed = Code("write-concern-failed")
        /// Bytes that are not valid BSON.
        public static let invalidBSON = Code("invalid-bson")
        /// A caller passed something libmongoc refuses before sending it.
        public static let invalidArgument = Code("invalid-argument")
        /// The pool is shutting down or shut down.
        public static let poolClosed = Code("pool-closed")
        /// The server does not offer change streams here (a standalone server, an old
        /// or MongoDB-compatible server without `$changeStream`).
        public static let changeStreamsUnavailable = Code("change-streams-unavailable")
        /// Anything else libmongoc reports.
        public static let driverError = Code("driver-error")
    }

    /// One failed write of a bulk write. Its server message may quote the document, so
    /// it is only in `debugDescription`.
    public struct WriteError: Sendable, Hashable {
        public let index: Int
        public let code: Int
        public let message: String

        public init(index: Int, code: Int, message: String) {
            self.index = index
            self.code = code
            self.message = message
        }
    }

    public var code: Code
    /// The server's error code, when the server answered.
    public var serverCode: Int?
    /// The server's codeName (`DuplicateKey`, `NotWritablePrimary`), when it sent one.
    public var codeName: String?
    /// The operation: `deleteMany`, `find`, `ping`, `connect`...
    public var operation: String
    /// `database.collection` or `database`, when the operation had one.
    public var namespace: String?
    /// What went wrong, without personal data.
    public var message: String
    /// The raw server or driver message; may quote data. Never in `description`.
    public var detail: String?
    public var writeErrors: [WriteError]
    public var errorLabels: [String]

    public init(
        code: Code, operation: String, namespace: String? = nil, message: String,
        serverCode: Int? = nil, codeName: String? = nil, detail: String? = nil,
        writeErrors: [WriteError] = [], errorLabels: [String] = []
    ) {
        self.code = code
        self.operation = operation
        self.namespace = namespace
        self.message = message
        self.serverCode = serverCode
        self.codeName = codeName
        self.detail = detail
        self.writeErrors = writeErrors
        self.errorLabels = errorLabels
    }

    /// Server codes that mean "try again": a primary stepping down, a node shutting
    /// down or recovering, a network blip seen by the server, a transient write conflict.
    static let retriableServerCodes: Set<Int> = [
        6, 7, 89, 91, 112, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 150, 64, 134,
    ]

    /// Whether the same operation may succeed if sent again unchanged.
    public var isRetriable: Bool {
        if errorLabels.contains("RetryableWriteError") || errorLabels.contains("TransientTransactionError") {
            return true
        }
        switch code {
        case .serverSelectionFailed, .connectionFailed: return true
        case .commandFailed, .writeConcernFailed, .writeFailed:
            if let serverCode, Self.retriableServerCodes.contains(serverCode) { return true }
            return writeErrors.contains { Self.retriableServerCodes.contains($0.code) }
        default: return false
        }
    }

    /// Transient: caused by the environment rather than by the request (alias of
    /// `isRetriable`, named as callers think of it).
    public var isTransient: Bool { isRetriable }

    public var description: String {
        var text = "MongoDB \(operation)"
        if let namespace { text += " on \(namespace)" }
        text += " failed (\(code.rawValue)"
        if let serverCode { text += ", server code \(serverCode)" }
        if let codeName { text += " \(codeName)" }
        text += "): \(message)"
        if !writeErrors.isEmpty {
            let codes = writeErrors.prefix(5).map { "#\($0.index) code \($0.code)" }.joined(separator: ", ")
            text += " [\(writeErrors.count) write error(s): \(codes)]"
        }
        return text
    }

    public var debugDescription: String {
        var text = description
        if let detail { text += " | detail: \(detail)" }
        for writeError in writeErrors { text += " | write error #\(writeError.index): \(writeError.message)" }
        return text
    }
}

extension MongoError {
    /// Maps libmongoc's error (error API v2) and, when there is one, the server reply.
    init(_ error: bson_error_t, operation: String, namespace: String? = nil, reply: BSONDocument? = nil) {
        let domain = error.domain
        let raw = error.messageText
        var code: Code
        var message: String
        var serverCode: Int?
        switch domain {
        case UInt32(MONGOC_ERROR_SERVER_SELECTION.rawValue):
            code = .serverSelectionFailed
            message = raw + ". Check that the server is running and reachable, and the host and port in the connection string."
        case UInt32(MONGOC_ERROR_STREAM.rawValue):
            code = .connectionFailed
            message = raw
        case UInt32(MONGOC_ERROR_CLIENT.rawValue) where error.code == UInt32(MONGOC_ERROR_CLIENT_AUTHENTICATE.rawValue):
            code = .authenticationFailed
            message = "authentication failed; check the user, password and authSource in the connection string"
        case UInt32(MONGOC_ERROR_SASL.rawValue), UInt32(MONGOC_ERROR_SCRAM.rawValue):
            code = .authenticationFailed
            message = "authentication failed; check the user, password and authSource in the connection string"
        case UInt32(MONGOC_ERROR_SERVER.rawValue), UInt32(MONGOC_ERROR_QUERY.rawValue):
            serverCode = Int(error.code)
            code = serverCode == 11000 ? .duplicateKey : .commandFailed
            message = "the server refused the command"
        case UInt32(MONGOC_ERROR_WRITE_CONCERN.rawValue):
            serverCode = Int(error.code)
            code = .writeConcernFailed
            message = "the write concern could not be satisfied"
        case UInt32(MONGOC_ERROR_BSON.rawValue):
            code = .invalidBSON
            message = raw
        case UInt32(MONGOC_ERROR_COMMAND.rawValue) where error.code == UInt32(MONGOC_ERROR_COMMAND_INVALID_ARG.rawValue):
            code = .invalidArgument
            message = raw
        case UInt32(MONGOC_ERROR_CLIENT.rawValue) where error.code == UInt32(MONGOC_ERROR_CLIENT_TOO_SMALL.rawValue):
            code = .invalidArgument
            message = raw
        default:
            code = .driverError
            message = raw
        }
        let writeErrors: [WriteError] = (reply?["writeErrors"]?.arrayValue ?? []).compactMap { item in
            guard let doc = item.documentValue else { return nil }
            return WriteError(
                index: doc["index"]?.intValue ?? 0, code: doc["code"]?.intValue ?? 0,
                message: doc["errmsg"]?.stringValue ?? ""
            )
        }
        if !writeErrors.isEmpty {
            code = writeErrors.contains { $0.code == 11000 } ? .duplicateKey : .writeFailed
            serverCode = serverCode ?? writeErrors.first?.code
            message = "\(writeErrors.count) write(s) failed"
        }
        let labels = (reply?["errorLabels"]?.arrayValue ?? []).compactMap(\.stringValue)
        self.init(
            code: code, operation: operation, namespace: namespace, message: message,
            serverCode: serverCode, codeName: reply?["codeName"]?.stringValue,
            detail: raw, writeErrors: writeErrors, errorLabels: labels
        )
    }

    /// Server codes that refuse a change stream outright: 40573 (only on replica sets:
    /// a standalone server), 40324 (unknown stage `$changeStream`: a server older than
    /// 3.6, or a compatible one without it), 115 CommandNotSupported.
    static let changeStreamRefusalCodes: Set<Int> = [40573, 40324, 115]

    /// `error` from opening or reading a change stream, with a refusal made plain.
    static func changeStream(_ error: MongoError) -> MongoError {
        guard error.code == .commandFailed, let serverCode = error.serverCode,
              changeStreamRefusalCodes.contains(serverCode) else { return error }
        var mapped = error
        mapped.code = .changeStreamsUnavailable
        mapped.message = "the server does not offer change streams here; they need a replica set or a sharded cluster (MongoDB 4.0 or later)"
        return mapped
    }

    static func poolClosed(_ operation: String) -> MongoError {
        MongoError(code: .poolClosed, operation: operation, message: "the client pool is shut down; no new operations are accepted")
    }

    static func decoding(_ error: BSONDecodingError, operation: String, namespace: String?) -> MongoError {
        MongoError(code: .invalidBSON, operation: operation, namespace: namespace, message: error.description)
    }
}
