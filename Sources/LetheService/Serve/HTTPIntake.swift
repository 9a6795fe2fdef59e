import Foundation
import HTTPTypes
import Hummingbird
import LetheCore
import Logging
import NIOCore

/// The HTTP side of `serve`: `POST /v1/events`, `GET /healthz`, `GET /metrics`.
public enum HTTPIntake {
    public struct Options: Sendable {
        /// Address to listen on. Default 127.0.0.1:8080.
        public var host: String
        public var port: Int
        /// Largest body accepted, in bytes. Default 1 MiB.
        public var maximumBodyBytes: Int
        public var authentication: RequestAuthenticator.Options

        public init(host: String = "127.0.0.1", port: Int = 8080, maximumBodyBytes: Int = 1 << 20,
                    authentication: RequestAuthenticator.Options = .init()) {
            self.host = host
            self.port = port
            self.maximumBodyBytes = maximumBodyBytes
            self.authentication = authentication
        }
    }

    /// The router, testable without a socket.
    public static func router(
        intake: any EventIntake, metrics: @escaping @Sendable () async throws -> String,
        health: @escaping @Sendable () async -> Bool, options: Options
    ) -> Router<BasicRequestContext> {
        let router = Router()
        let authenticator = RequestAuthenticator(options: options.authentication)
        router.get("/healthz") { _, _ -> Response in
            await health()
                ? Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
                : Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: "the state database does not answer\n")))
        }
        router.get("/metrics") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: try await metrics())))
        }
        router.post("/v1/events") { request, context -> Response in
            let buffer: ByteBuffer
            do {
                buffer = try await request.body.collect(upTo: options.maximumBodyBytes)
            } catch {
                return json(.contentTooLarge, ["error": "the body is larger than \(options.maximumBodyBytes) bytes; send fewer events per request"])
            }
            let body = Array(buffer.readableBytesView)
            switch authenticator.check(
                authorization: request.headers[.authorization],
                signature: request.headers[HTTPField.Name(RequestAuthenticator.signatureHeader)!],
                body: body
            ) {
            case .refused(let reason):
                context.logger.notice("event delivery refused", metadata: [LogKey.reason: .string(reason)])
                return json(.unauthorized, ["error": reason])
            case .accepted:
                break
            }
            let summary = try await intake.receive(body, channel: .http)
            let status: HTTPResponse.Status = summary.accepted.isEmpty && !summary.refused.isEmpty ? .badRequest : .accepted
            return encode(status, summary)
        }
        return router
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
