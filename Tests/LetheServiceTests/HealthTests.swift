import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LetheCore
@testable import LetheService
import MongoKit
import NIOCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A TCP port that accepts connections (the kernel completes them) and never answers:
/// a database that does not answer.
private final class SilentListener: Sendable {
    let descriptor: Int32
    let port: Int

    struct Failed: Error {}

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard fd >= 0, bound == 0, listen(fd, 16) == 0 else { throw Failed() }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        descriptor = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }
}

@Suite("serve's health, readiness and metrics")
struct HealthTests {
    static func router(pool: MongoClientPool, metrics: ServiceMetrics, options: HTTPIntake.Options) -> Router<BasicRequestContext> {
        // As LetheServer wires them.
        HTTPIntake.router(
            intake: NoIntake(), metrics: { await metrics.render() }, health: { (try? await pool.ping()) != nil },
            ready: { metrics.hasFinishedAPass }, options: options)
    }

    @Test("/healthz and /readyz answer 503 within their bound while the database does not answer; /metrics says it is down")
    func silentDatabase() async throws {
        let listener = try SilentListener()
        let pool = try MongoClientPool(ConnectionString("mongodb://127.0.0.1:\(listener.port)/?directConnection=true&serverSelectionTimeoutMS=60000"))
        let metrics = ServiceMetrics(state: MongoStateStore(pool: pool))
        let router = Self.router(pool: pool, metrics: metrics, options: HTTPIntake.Options())
        try await Application(router: router).test(.router) { client in
            for path in ["/healthz", "/readyz"] {
                let started = ContinuousClock.now
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(String(buffer: response.body) == "the state database did not answer within 2 s\n")
                }
                // The message says the bound answered, not the database (which would take its
                // 60 s selection timeout); the time is asserted loosely, as the whole suite
                // runs beside this test on a busy machine.
                #expect(ContinuousClock.now - started < .seconds(30), "\(path) waited for the database")
            }
            let started = ContinuousClock.now
            try await client.execute(uri: "/metrics", method: .get) { response in
                let text = String(buffer: response.body)
                #expect(response.status == .ok)
                #expect(text.contains("lethe_state_database_up 0"))
                #expect(text.contains("lethe_build_info{version=\"\(LetheVersion.current)\"} 1"))
                #expect(!text.contains("lethe_queue_depth"), "no figure from a database that did not answer")
            }
            #expect(ContinuousClock.now - started < .seconds(30))
        }
        await pool.shutdown()
    }

    @Test("without a secret or a token there is no event intake, but health and metrics are served")
    func noCredentials() async throws {
        let pool = try MongoClientPool(ConnectionString("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200"))
        let metrics = ServiceMetrics(state: MongoStateStore(pool: pool))
        let router = Self.router(pool: pool, metrics: metrics, options: HTTPIntake.Options())
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/v1/events", method: .post, body: ByteBuffer(string: "{}")) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(String(buffer: response.body) == "the state database does not answer\n")
            }
            try await client.execute(uri: "/metrics", method: .get) { response in #expect(response.status == .ok) }
        }
        await pool.shutdown()
    }

    @Test("the request-duration histogram is cumulative, with sum and count")
    func histogram() {
        var histogram = Histogram(bounds: [60, 3_600])
        for seconds in [30.0, 90, 7_200] { histogram.observe(seconds) }
        #expect(histogram.lines(name: "d") == [
            "d_bucket{le=\"60\"} 1", "d_bucket{le=\"3600\"} 2", "d_bucket{le=\"+Inf\"} 3", "d_sum 7320.0", "d_count 3",
        ])
    }
}

private struct NoIntake: EventIntake {
    func receive(_ body: [UInt8], channel: LetheCore.Channel) async throws -> IntakeSummary { fatalError("no intake in these tests") }
    func record(_ refusals: [IntakeRefusal]) async throws {}
}
