import BSON
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LetheCore
import LetheService
import LetheTestSupport
import MongoKit
import NIOCore
import Testing

/// An App Services authentication trigger's DELETE event, as the trigger inserts it.
func appServicesEvent(_ userId: String, identity: String, email: String, time: BSON = .datetime(BSONDatetime(millisecondsSinceEpoch: 1_763_000_000_000))) -> BSONDocument {
    [
        "operationType": "DELETE",
        "providers": ["local-userpass"],
        "user": ["id": .string(userId), "identities": [["id": .string(identity), "provider_type": "local-userpass"]], "data": ["email": .string(email)]],
        "time": time,
    ]
}

func cloudEvent(_ id: String, userId: String) -> String {
    #"{"specversion":"1.0","id":"\#(id)","source":"auth.example","type":"user.deleted","time":"2026-11-20T10:00:00Z","data":{"userId":"\#(userId)","identities":[]}}"#
}

@Suite("Event intake: inbox, HTTP, duplicates, hostile events (integration)", .enabled(if: TestServer.isConfigured, TestServer.skipReason))
struct IntakeIntegrationTests {
    @Test("the inbox takes both shapes; the same event twice is one request; other types are acknowledged; hostile ones refused and recorded")
    func inbox() async throws {
        try await TodoFixture.make().use { fixture in
            let inbox = fixture.runtime.pool.database(fixture.database.name + "_state").collection("inbox")
            try await inbox.insertMany([
                appServicesEvent("alice-0001", identity: "alice-google-77", email: "alice@example.com"),
                appServicesEvent("alice-0001", identity: "alice-google-77", email: "alice@example.com"),  // delivered twice
                ["operationType": "LOGIN", "providers": ["anon-user"], "user": ["id": "someone"], "time": .datetime(BSONDatetime(Date()))],
                ["operationType": "DELETE", "user": ["id": ["$ne": ""], "data": ["email": "mallory@example.com"]], "time": .datetime(BSONDatetime(Date()))],
                try BSONDocument(extendedJSON: cloudEvent("evt-bob", userId: "bob-0002")),
            ])
            let consumer = InboxConsumer(collection: inbox, intake: RequestIntake(engine: fixture.runtime.engine))
            let counts = try await consumer.drain()
            #expect(counts == IntakeCounts(new: 2, duplicates: 1, ignored: 1, refused: 1))
            #expect(try await inbox.countDocuments() == 0)

            let refusals = try await fixture.runtime.state.refusals()
            #expect(refusals.map(\.code) == ["not-plain-id"])
            #expect(refusals.allSatisfy { $0.channel == .inbox && !$0.message.contains("mallory") && !$0.message.contains("$ne") })

            let worker = try await QueueWorker(engine: fixture.runtime.engine).drain()
            #expect(worker.count(.done) == 2)
            // Bob's event named no identities, so only the item made with his linked identity stays.
            #expect(try await fixture.database.collection("Item").find().toArray().map { $0["owner_id"] } == ["bob-apple-88"])
            let state = try await fixture.runtime.pool.database(fixture.database.name + "_state").collection("requests").find().toArray()
            #expect(state.allSatisfy { !$0.extendedJSON(.canonical).contains("alice") && !$0.extendedJSON(.canonical).contains("@example.com") })
        }
    }

    @Test("events that do not fit the policy's idType are refused, not erased")
    func idTypeMismatch() async throws {
        let yaml = QueueWorkerIntegrationTests.yaml.replacingOccurrences(of: "idType: string", with: "idType: objectId")
        try await TodoFixture.make(yaml: yaml).use { fixture in
            let summary = try await RequestIntake(engine: fixture.runtime.engine).receive(Array(cloudEvent("e", userId: "not-hex").utf8), channel: .http)
            #expect(summary.accepted.isEmpty)
            #expect(summary.refused.map(\.code) == ["id-does-not-fit-policy"])
            #expect(try await fixture.runtime.state.requests().isEmpty)
        }
    }

    static let secret = Array("s3cret-shared-with-the-auth-system".utf8)

    static func withApp(_ fixture: TodoFixture, maximumBodyBytes: Int = 1 << 20,
                        _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let options = HTTPIntake.Options(maximumBodyBytes: maximumBodyBytes, authentication: .init(secret: secret, bearerToken: "tok"))
        let state = fixture.runtime.state
        let router = HTTPIntake.router(
            intake: RequestIntake(engine: fixture.runtime.engine),
            metrics: { await ServiceMetrics(state: state).render() }, health: { true }, options: options
        )
        try await Application(router: router).test(.router, body)
    }

    static func signed(_ body: String, secret: [UInt8] = secret, at date: Date = Date()) -> HTTPFields {
        let timestamp = String(Int(date.timeIntervalSince1970))
        var headers = HTTPFields()
        headers[HTTPField.Name("Lethe-Signature")!] = "t=\(timestamp),v1=\(RequestAuthenticator.signature(secret: secret, timestamp: timestamp, body: Array(body.utf8)))"
        return headers
    }

    @Test("HTTP: a signed delivery is stored before 202; bad, missing and stale signatures are 401; a bearer token works; too large is 413")
    func http() async throws {
        try await TodoFixture.make().use { fixture in
            let event = cloudEvent("evt-1", userId: "alice-0001")
            try await Self.withApp(fixture, maximumBodyBytes: 4096) { client in
                try await client.execute(uri: "/v1/events", method: .post, headers: Self.signed(event), body: ByteBuffer(string: event)) { response in
                    #expect(response.status == .accepted)
                    let summary = try JSONDecoder().decode(IntakeSummary.self, from: Data(buffer: response.body))
                    #expect(summary.accepted.count == 1)
                    #expect(try await fixture.runtime.state.request(id: summary.accepted[0].requestId) != nil)
                }
                try await client.execute(uri: "/v1/events", method: .post, headers: Self.signed(event), body: ByteBuffer(string: event)) { response in
                    #expect(response.status == .accepted)
                    #expect(String(buffer: response.body).contains(#""duplicate":true"#))
                }
                try await client.execute(uri: "/v1/events", method: .post, body: ByteBuffer(string: event)) { response in
                    #expect(response.status == .unauthorized)
                }
                try await client.execute(uri: "/v1/events", method: .post, headers: Self.signed(event, secret: Array("wrong".utf8)), body: ByteBuffer(string: event)) { response in
                    #expect(response.status == .unauthorized)
                    #expect(String(buffer: response.body).contains("does not match"))
                }
                try await client.execute(uri: "/v1/events", method: .post, headers: Self.signed(event, at: Date().addingTimeInterval(-3600)), body: ByteBuffer(string: event)) { response in
                    #expect(response.status == .unauthorized)
                    #expect(String(buffer: response.body).contains("more than 300 seconds"))
                }
                try await client.execute(uri: "/v1/events", method: .post, headers: Self.signed("tampered" + event), body: ByteBuffer(string: event)) { response in
                    #expect(response.status == .unauthorized)
                }
                var bearer = HTTPFields()
                bearer[.authorization] = "Bearer tok"
                let other = cloudEvent("evt-2", userId: "bob-0002")
                try await client.execute(uri: "/v1/events", method: .post, headers: bearer, body: ByteBuffer(string: other)) { response in
                    #expect(response.status == .accepted)
                }
                bearer[.authorization] = "Bearer nope"
                try await client.execute(uri: "/v1/events", method: .post, headers: bearer, body: ByteBuffer(string: other)) { response in
                    #expect(response.status == .unauthorized)
                }
                let big = String(repeating: " ", count: 5000) + event
                try await client.execute(uri: "/v1/events", method: .post, headers: Self.signed(big), body: ByteBuffer(string: big)) { response in
                    #expect(response.status == .contentTooLarge)
                }
                let hostile = #"{"specversion":"1.0","id":"x","source":"s","type":"user.deleted","data":{"userId":["a","b"]}}"#
                try await client.execute(uri: "/v1/events", method: .post, headers: Self.signed(hostile), body: ByteBuffer(string: hostile)) { response in
                    #expect(response.status == .badRequest)
                    #expect(String(buffer: response.body).contains("not-plain-id"))
                }
                try await client.execute(uri: "/healthz", method: .get) { response in #expect(response.status == .ok) }
                try await client.execute(uri: "/metrics", method: .get) { response in
                    let text = String(buffer: response.body)
                    #expect(text.contains("lethe_requests{state=\"received\"} 2"))
                    #expect(text.contains("lethe_queue_depth 2"))
                    #expect(text.contains("# TYPE lethe_oldest_pending_age_seconds gauge"))
                }
            }
            #expect(try await fixture.runtime.state.requests().count == 2)
        }
    }
}
