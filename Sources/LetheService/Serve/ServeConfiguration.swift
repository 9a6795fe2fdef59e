import LetheCore

/// What `lethe serve` runs, as its flags and environment say. The command only parses
/// them into this; `LetheServer.build(configuration:runtime:logger:)` assembles the services.
public struct ServeConfiguration: Sendable {
    /// Where `serve` listens for HTTP: health, readiness and metrics always, the event
    /// intake when a secret or a token is set.
    public struct HTTP: Sendable {
        /// Address to listen on. Default 127.0.0.1.
        public var host: String
        /// Port. Default 8080.
        public var port: Int
        /// The shared secret of signed deliveries (`LETHE_HTTP_SECRET`). Default nil.
        public var secret: String?
        /// The bearer token of deliveries (`LETHE_HTTP_TOKEN`). Default nil.
        public var bearerToken: String?

        public init(host: String = "127.0.0.1", port: Int = 8080, secret: String? = nil, bearerToken: String? = nil) {
            self.host = host
            self.port = port
            self.secret = secret
            self.bearerToken = bearerToken
        }

        /// Whether a secret or a token is set: `POST /v1/events` is served only then.
        public var hasCredentials: Bool { !(secret ?? "").isEmpty || !(bearerToken ?? "").isEmpty }

        /// The credentials, checked (a secret long enough, a token well formed).
        public func authentication() throws(RequestAuthenticator.CredentialError) -> RequestAuthenticator.Options {
            try .checked(secret: secret, bearerToken: bearerToken)
        }
    }

    /// The inbox collection producers insert events into.
    public struct Inbox: Sendable {
        /// Default: the state database.
        public var database: String
        /// Default `inbox`.
        public var collection: String

        public init(database: String, collection: String = "inbox") {
            self.database = database
            self.collection = collection
        }
    }

    /// The worker and the sweeps (its `http` is set by `build` from `http`). Default `LetheServer.Options()`.
    public var options: LetheServer.Options
    /// HTTP; nil to run without it. Default nil.
    public var http: HTTP?
    /// The inbox; nil to take none in. Default nil.
    public var inbox: Inbox?
    /// Lethe's own database, where refused inbox documents are kept. Default `lethe`.
    public var stateDatabase: String

    /// Refuses unusable HTTP credentials, before anything connects (`build` does too).
    public func check() throws(RequestAuthenticator.CredentialError) {
        _ = try http?.authentication()
    }

    public init(options: LetheServer.Options = .init(), http: HTTP? = nil, inbox: Inbox? = nil, stateDatabase: String = "lethe") {
        self.options = options
        self.http = http
        self.inbox = inbox
        self.stateDatabase = stateDatabase
    }
}
