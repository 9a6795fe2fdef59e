import Foundation
import HTTPTypes
import Hummingbird
import LetheCore
import HummingbirdCore
import Logging
import NIOCore

/// The HTTP side of `serve`: `GET /healthz`, `GET /readyz` and `GET /metrics` always;
/// `POST /v1/events` only when a secret or a bearer token is configured.
///
/// Nothing unauthenticated is read: the sender is checked from the headers (a bearer
/// token, or a well-formed, fresh signature header and a `Content-Length` within the
/// bound) before a byte of the body is, and a refused request's connection is closed
/// after the answer instead of reading the rest. Connections, the time to send the
/// headers and the time to send the body are bounded (`IntakeConnectionGuard`).
public enum HTTPIntake {
    public struct Options: Sendable {
        /// Address to listen on. Default 127.0.0.1:8080.
        public var host: String
        public var port: Int
        /// Largest body accepted, in bytes. Default 1 MiB.
        public var maximumBodyBytes: Int
        public var authentication: RequestAuthenticator.Options
        /// Connections open at once; more wait to be accepted. Default 256.
        public var maximumConnections: Int
        /// Time from a connection's start (or the end of its last answer) to the end of
        /// the next request's headers; then it is closed. Default 10 seconds.
        public var headerTimeout: Duration
        /// Time from the end of the headers to the end of the body. Default 30 seconds.
        public var bodyTimeout: Duration
        /// Longest wait for the state database's answer to `/healthz` and `/readyz`, and to
        /// the figures `/metrics` reads from it; past it, 503 (or the figures without them).
        /// Default 2 seconds.
        public var probeTimeout: Duration

        public init(host: String = "127.0.0.1", port: Int = 8080, maximumBodyBytes: Int = 1 << 20,
                    authentication: RequestAuthenticator.Options = .init(), maximumConnections: Int = 256,
                    headerTimeout: Duration = .seconds(10), bodyTimeout: Duration = .seconds(30),
                    probeTimeout: Duration = .seconds(2)) {
            self.host = host
            self.port = port
            self.maximumBodyBytes = maximumBodyBytes
            self.authentication = authentication
            self.maximumConnections = maximumConnections
            self.headerTimeout = headerTimeout
            self.bodyTimeout = bodyTimeout
            self.probeTimeout = probeTimeout
        }
    }

    /// The server: the router behind the connection bounds of `options`.
    public static func application(router: Router<BasicRequestContext>, options: Options, logger: Logger)
        -> some ApplicationProtocol
    {
        let header = TimeAmount(options.headerTimeout)
        let body = TimeAmount(options.bodyTimeout)
        return Application(
            router: router,
            // No hummingbird idleTimeout: it counts from the last part read, so it would also
            // cut a request whose answer is being prepared; the guard bounds headers and body.
            server: .http1(configuration: .init(
                additionalChannelHandlers: [IntakeConnectionGuard(headerTimeout: header, bodyTimeout: body)])),
            configuration: .init(address: .hostname(options.host, port: options.port),
                                 availableConnectionsDelegate: MaximumAvailableConnections(options.maximumConnections, logger: logger)),
            logger: logger)
    }

    /// The router, testable without a socket. `health`: whether the state database
    /// answers; `ready`: whether the worker has finished a pass (default: always).
    public static func router(
        intake: any EventIntake, metrics: @escaping @Sendable () async throws -> String,
        health: @escaping @Sendable () async -> Bool, ready: @escaping @Sendable () -> Bool = { true }, options: Options
    ) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/healthz") { _, _ -> Response in
            await probe(health, options).map { text(.serviceUnavailable, $0) } ?? text(.ok, "ok")
        }
        router.get("/readyz") { _, _ -> Response in
            if let problem = await probe(health, options) { return text(.serviceUnavailable, problem) }
            return ready() ? text(.ok, "ready") : text(.serviceUnavailable, "starting: the worker has not finished its first pass")
        }
        router.get("/metrics") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: try await metrics())))
        }
        if options.authentication.isConfigured { events(router, intake: intake, options: options) }
        return router
    }

    /// What is wrong with the state database, within `options.probeTimeout`; nil when it answers.
    static func probe(_ health: @escaping @Sendable () async -> Bool, _ options: Options) async -> String? {
        switch await answer(within: options.probeTimeout, health) {
        case true?: nil
        case false?: "the state database does not answer"
        case nil: "the state database did not answer within \(options.probeTimeout.components.seconds) s"
        }
    }

    static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, body: .init(byteBuffer: ByteBuffer(string: body + "\n")))
    }

    /// `POST /v1/events`.
    private static func events(_ router: Router<BasicRequestContext>, intake: any EventIntake, options: Options) {
        let authenticator = RequestAuthenticator(options: options.authentication)
        let refusals = HTTPRefusalRecorder(intake: intake)
        router.post("/v1/events") { request, context -> Response in
            let signature = request.headers[HTTPField.Name(RequestAuthenticator.signatureHeader)!]
            let authorization = request.headers[.authorization]
            // From the headers alone, before the body is read.
            if case .refused(let reason) = authenticator.preflight(authorization: authorization, signature: signature) {
                return await refusals.refuse(.unauthorized, code: .unauthenticated, reason: reason, logger: context.logger)
            }
            if let length = request.headers[.contentLength].flatMap(Int.init), length > options.maximumBodyBytes {
                return await refusals.refuse(.contentTooLarge, code: .tooLarge, reason: tooLarge(options), logger: context.logger)
            }
            let buffer: ByteBuffer
            do {
                buffer = try await request.body.collect(upTo: options.maximumBodyBytes)
            } catch is NIOTooManyBytesError {
                return await refusals.refuse(.contentTooLarge, code: .tooLarge, reason: tooLarge(options), logger: context.logger)
            }
            // Any other error: the connection ended (or its body time ran out) mid-body.
            let body = Array(buffer.readableBytesView)
            if case .refused(let reason) = authenticator.check(authorization: authorization, signature: signature, body: body) {
                return await refusals.refuse(.unauthorized, code: .unauthenticated, reason: reason, logger: context.logger)
            }
            let summary = try await intake.receive(body, channel: .http)
            let status: HTTPResponse.Status = summary.accepted.isEmpty && !summary.refused.isEmpty ? .badRequest : .accepted
            return encode(status, summary)
        }
    }

    static func tooLarge(_ options: Options) -> String {
        "the body is larger than \(options.maximumBodyBytes) bytes; send fewer events per request"
    }

    static func json(_ status: HTTPResponse.Status, _ object: [String: String]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func encode(_ status: HTTPResponse.Status, _ summary: IntakeSummary) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(summary)) ?? Data("{}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
