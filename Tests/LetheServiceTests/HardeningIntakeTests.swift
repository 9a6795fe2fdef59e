import BSON
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
@testable import LetheCore
@testable import LetheService
import LetheTestSupport
import MongoKit
import NIOCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 16: the inbox keeps what it refuses and will not consume what is not an inbox;
/// dedupe keys are keyed; HTTP reads nothing unauthenticated and bounds its connections.
@Suite("Hardened intake (integration)", .enabled(if: TestServer.isConfigured, TestServer.skipReason))
struct HardeningIntakeTests {
    @Test("a refused inbox event is moved, with its refusal, to the dead-letter collection before it leaves the inbox")
    func deadLetter() async throws {
        try await TodoFixture.make().use { fixture in
            let state = fixture.runtime.pool.database(fixture.database.name + "_state")
            let inbox = state.collection("inbox")
            let hostile: BSONDocument = ["_id": "evt-hostile", "operationType": "DELETE", "user": ["id": ["$ne": ""]], "time": .datetime(BSONDatetime(Date()))]
            try await inbox.insertMany([appServicesEvent("alice-0001", identity: "alice-google-77", email: "alice@example.com"), hostile])
            let counts = try await InboxConsumer(collection: inbox, intake: RequestIntake(engine: fixture.runtime.engine)).drain()
            #expect(counts == IntakeCounts(new: 1, refused: 1))
            #expect(try await inbox.countDocuments() == 0)
            let kept = try await state.collection("inboxRejected").find().toArray()
            #expect(kept.count == 1)
            #expect(kept.first?["_id"] == "evt-hostile")
            #expect(kept.first?["code"] == "not-plain-id" && kept.first?["field"] == "user.id")
            #expect(kept.first?["inbox"] == .string(inbox.namespace))
            #expect(kept.first?["event"]?.documentValue?["user"] == hostile["user"])
        }
    }

    @Test("a collection with no event in it is not consumed: nothing deleted, nothing recorded, a message naming the inbox")
    func notAnInbox() async throws {
        try await TodoFixture.make().use { fixture in
            let items = fixture.database.collection("Item")
            let before = try await items.countDocuments()
            await #expect(throws: InboxError.notAnInbox(namespace: items.namespace, documents: before)) {
                try await InboxConsumer(collection: items, intake: RequestIntake(engine: fixture.runtime.engine)).drain()
            }
            #expect(try await items.countDocuments() == before)
            #expect(try await fixture.runtime.state.refusals().isEmpty)
            let message = InboxError.notAnInbox(namespace: items.namespace, documents: before).description
            #expect(message.contains(items.namespace) && message.contains("--inbox"))
        }
    }

    @Test("dedupe keys are HMAC-keyed with the subject key: not the plain SHA-256, and different under another key")
    func keyedDedupe() async throws {
        try await TodoFixture.make().use { fixture in
            let event = cloudEvent("evt-keyed", userId: "alice-0001")
            let summary = try await RequestIntake(engine: fixture.runtime.engine).receive(Array(event.utf8), channel: .cli)
            let accepted = try #require(summary.accepted.first)
            let request = try await fixture.runtime.state.request(id: accepted.requestId)
            let stored = try #require(request?.dedupeKey)
            let parsed = try #require(DeletionEventParser().parse(json: Data(event.utf8)).first?.event)
            #expect(stored != parsed.dedupeKey(using: nil))
            #expect(stored == parsed.dedupeKey(using: try await fixture.runtime.state.subjectKey()))
            #expect(stored != parsed.dedupeKey(using: SecretKey.random()))
        }
    }

    static let token = String(repeating: "t", count: 32)

    static func liveApp(_ fixture: TodoFixture, headerTimeout: Duration = .seconds(1), bodyTimeout: Duration = .seconds(1),
                        _ body: @Sendable @escaping (Int) async throws -> Void) async throws {
        let options = HTTPIntake.Options(port: 0, maximumBodyBytes: 4096, authentication: .init(bearerToken: token),
                                         headerTimeout: headerTimeout, bodyTimeout: bodyTimeout)
        let router = HTTPIntake.router(intake: RequestIntake(engine: fixture.runtime.engine), metrics: { "" }, health: { true }, options: options)
        let app = HTTPIntake.application(router: router, options: options, logger: .init(label: "test"))
        try await app.test(.live) { client in try await body(try #require(client.port)) }
    }

    @Test("half a header is disconnected at the header bound; an idle connection too; a body that never ends at the body bound")
    func headerTimeout() async throws {
        try await TodoFixture.make().use { fixture in
            try await Self.liveApp(fixture) { port in
                let socket = try RawSocket(port: port)
                try socket.send("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Le")
                // Bound 1 s; closed well within 10 s (a generous margin, not a speed target).
                let halfHeader = socket.readUntilClosed(limit: .seconds(10))
                #expect(halfHeader.closed && halfHeader.text.isEmpty)
                let idle = try RawSocket(port: port).readUntilClosed(limit: .seconds(10))
                #expect(idle.closed && idle.text.isEmpty)
                // Headers in time, a body that never ends: closed at the body bound, unanswered.
                let slow = try RawSocket(port: port)
                try slow.send("POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(Self.token)\r\nContent-Length: 100\r\n\r\n{")
                let slowAnswer = slow.readUntilClosed(limit: .seconds(10))
                #expect(slowAnswer.closed && !slowAnswer.text.hasPrefix("HTTP/1.1 202"))
            }
        }
    }

    @Test("an unauthenticated large body is refused with 401 from the headers, the connection closed unread, and recorded")
    func unauthenticatedBody() async throws {
        try await TodoFixture.make().use { fixture in
            // A body bound the answer (after the refusal is recorded) fits in on a busy test server.
            try await Self.liveApp(fixture, bodyTimeout: .seconds(8)) { port in
                let socket = try RawSocket(port: port)
                // Announces 1 MB and sends none of it: the answer cannot have waited for the body.
                try socket.send("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
                let answer = socket.readUntilClosed(limit: .seconds(10))
                #expect(answer.closed && answer.text.hasPrefix("HTTP/1.1 401"))
                #expect(answer.text.contains("unauthenticated"))
                let tooLarge = try RawSocket(port: port)
                try tooLarge.send("POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(Self.token)\r\nContent-Length: 1000000\r\n\r\n")
                let refusedLarge = tooLarge.readUntilClosed(limit: .seconds(10))
                #expect(refusedLarge.closed && refusedLarge.text.hasPrefix("HTTP/1.1 413"))
            }
            let refusals = try await fixture.runtime.state.refusals()
            #expect(Set(refusals.map(\.code)) == ["unauthenticated", "too-large"])
            #expect(refusals.allSatisfy { $0.channel == .http && !$0.message.contains(Self.token) })
        }
    }

    @Test("HTTP credentials shorter than 32 bytes are refused at start, naming the variable only")
    func shortCredentials() throws {
        #expect(throws: RequestAuthenticator.CredentialError(variable: "LETHE_HTTP_TOKEN", bytes: 3)) {
            try RequestAuthenticator.Options.checked(secret: nil, bearerToken: "tok")
        }
        #expect(throws: RequestAuthenticator.CredentialError(variable: "LETHE_HTTP_SECRET", bytes: 6)) {
            try RequestAuthenticator.Options.checked(secret: "s3cret", bearerToken: nil)
        }
        #expect(try RequestAuthenticator.Options.checked(secret: String(repeating: "s", count: 32), bearerToken: "").isConfigured)
    }
}

/// A blocking TCP client, to send exactly the bytes a hostile client would.
final class RawSocket: @unchecked Sendable {
    let descriptor: Int32

    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
    }

    deinit { close(descriptor) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard Glibc.send(descriptor, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { throw POSIXError(.EPIPE) }
    }

    /// Everything received until the server closes the connection, or `limit` passes
    /// (then `closed` is false).
    func readUntilClosed(limit: Duration) -> (text: String, closed: Bool) {
        var timeout = timeval(tv_sec: Int(limit.components.seconds), tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var closed = false
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                closed = true
                break
            }
            if count < 0 { break }
            received += buffer[0..<count]
        }
        return (String(decoding: received, as: UTF8.self), closed)
    }
}
