import BSON
import Foundation
import LetheTestSupport
import MongoKit
import Testing

private let backlogPolicy = """
version: 1
name: backlog
database: DATABASE
subject: { idType: string }
rules:
  - collection: notes
    match: owner
    action: delete
  - collection: profiles
    match: user_id
    action: anonymize
    set: { name: Deleted user }
"""

private struct ServiceFixture: TearsDown {
    let pool: MongoClientPool
    let database: MongoDatabase
    let policies: URL
    var state: String { database.name + "_state" }

    static func make(users: Int) async throws -> ServiceFixture {
        let pool = try TestServer.pool()
        let database = pool.database(TestServer.uniqueDatabaseName("svc"))
        let policies = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-svc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: policies, withIntermediateDirectories: true)
        try backlogPolicy.replacingOccurrences(of: "DATABASE", with: database.name)
            .write(to: policies.appendingPathComponent("backlog.yaml"), atomically: true, encoding: .utf8)
        if users > 0 {
            try await database.collection("notes").insertMany((0..<users).flatMap { i in
                [["owner": .string("user-\(i)")], ["owner": .string("user-\(i)")]] as [BSONDocument]
            })
            try await database.collection("profiles").insertMany((0..<users).map { ["user_id": .string("user-\($0)"), "name": .string("Person \($0)")] })
            try await database.collection("notes").createIndex(["owner": 1])
            try await database.collection("profiles").createIndex(["user_id": 1])
        }
        return ServiceFixture(pool: pool, database: database, policies: policies)
    }

    var environment: [String: String] { ["LETHE_MONGODB_URI": TestServer.uri!, "LETHE_HASH_KEY": "", "LETHE_HTTP_TOKEN": "", "LETHE_HTTP_SECRET": ""] }

    func arguments(_ command: [String]) -> [String] {
        command + ["--policies", policies.path, "--state-db", state]
    }

    func events(_ users: Range<Int>) -> String {
        users.map { #"{"specversion":"1.0","id":"evt-\#($0)","source":"auth.example","type":"user.deleted","data":{"userId":"user-\#($0)"}}"# }
            .joined(separator: "\n")
    }

    func requests() async throws -> [BSONDocument] {
        try await pool.database(state).collection("requests").find().toArray()
    }

    func tearDown() async {
        try? await database.drop()
        try? await pool.database(state).drop()
        try? FileManager.default.removeItem(at: policies)
        await pool.shutdown()
    }
}

@Suite("lethe enqueue, run, serve (integration)", .enabled(if: TestServer.isConfigured, TestServer.skipReason), .serialized)
struct CLIServiceTests {
    @Test("enqueue reads a file or standard input, JSON Lines or arrays; duplicates are one request; refusals exit 65")
    func enqueue() async throws {
        try await ServiceFixture.make(users: 3).use { fixture in
            let file = fixture.policies.appendingPathComponent("events.jsonl")
            try fixture.events(0..<2).write(to: file, atomically: true, encoding: .utf8)
            let first = try LetheExecutable.run(fixture.arguments(["enqueue", "--event-file", file.path]), environment: fixture.environment)
            #expect(first.exitCode == 0, "\(first.output)")
            #expect(first.stdout.contains("2 new request(s), 0 already recorded"))
            let again = try LetheExecutable.run(fixture.arguments(["enqueue", "--event-file", "-"]), environment: fixture.environment,
                                                stdin: "[" + fixture.events(0..<3).split(separator: "\n").joined(separator: ",") + "]")
            #expect(again.exitCode == 0, "\(again.output)")
            #expect(again.stdout.contains("1 new request(s), 2 already recorded"))
            let bad = try LetheExecutable.run(fixture.arguments(["enqueue", "--event-file", "-"]), environment: fixture.environment,
                                              stdin: #"{"specversion":"1.0","id":"x","source":"s","type":"user.deleted","data":{"userId":"has space"}}"#)
            #expect(bad.exitCode == 65)
            #expect(bad.stderr.contains("not-plain-id"))
            #expect(!bad.output.contains("has space"))
            let missing = try LetheExecutable.run(fixture.arguments(["enqueue", "--event-file", "/nonexistent.json"]), environment: fixture.environment)
            #expect(missing.exitCode == 65)
            #expect(missing.stderr.contains("cannot read /nonexistent.json"))
            let run = try LetheExecutable.run(fixture.arguments(["run", "--once"]), environment: fixture.environment)
            #expect(run.exitCode == 0, "\(run.output)")
            #expect(run.stdout.contains("processed 3 request(s): 3 done"))
            let runs = try await fixture.pool.database(fixture.state).collection("runs").find().toArray()
            #expect(runs.count == 1)
            #expect(runs.first?["done"]?.intValue == 3)
            #expect(runs.first?.value(atPath: "documents.delete")?.intValue == 6)
            #expect(try await fixture.database.collection("notes").countDocuments() == 0)
        }
    }

    @Test("run --once: requests that wait (held, needing approval) are counted and exit 0; --waiting-exit-code 75 keeps 75")
    func waitingIsNotFailing() async throws {
        try await ServiceFixture.make(users: 2).use { fixture in
            let hold = try LetheExecutable.run(["hold", "add", "--user", "user-0", "--reason", "case 7", "--state-db", fixture.state],
                                              environment: fixture.environment)
            #expect(hold.exitCode == 0, "\(hold.output)")
            let enqueued = try LetheExecutable.run(fixture.arguments(["enqueue", "--event-file", "-"]), environment: fixture.environment,
                                                   stdin: fixture.events(0..<2))
            #expect(enqueued.exitCode == 0, "\(enqueued.output)")
            // user-1's 3 documents are over --max-documents 2: it waits for approval.
            let run = try LetheExecutable.run(fixture.arguments(["run", "--once", "--max-documents", "2"]), environment: fixture.environment)
            #expect(run.exitCode == 0, "\(run.output)")
            #expect(run.stdout.contains("0 done, 0 failed, 2 waiting (1 held, 1 needs approval)"), "\(run.stdout)")
            #expect(run.stdout.contains("lethe approve"))
            let strict = try LetheExecutable.run(fixture.arguments(["run", "--once", "--max-documents", "2", "--waiting-exit-code", "75"]),
                                                 environment: fixture.environment)
            #expect(strict.exitCode == 75, "\(strict.output)")
            #expect(strict.stdout.contains("1 held"), "\(strict.stdout)")
            #expect(try await fixture.database.collection("notes").countDocuments() == 4, "nothing was erased")
            let listed = try LetheExecutable.run(["requests", "--format", "json", "--state-db", fixture.state], environment: fixture.environment)
            let states = try listed.stdout.split(separator: "\n").map { line in
                try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])["state"] as? String
            }
            #expect(states.sorted { ($0 ?? "") < ($1 ?? "") } == ["held", "needs-approval"], "\(listed.output)")
            let holds = try LetheExecutable.run(["hold", "list", "--format", "json", "--state-db", fixture.state], environment: fixture.environment)
            let listedHold = try #require(try JSONSerialization.jsonObject(with: Data(holds.stdout.utf8)) as? [String: Any])
            #expect(listedHold["reason"] as? String == "case 7" && (listedHold["id"] as? String)?.hasPrefix("hold_") == true)
            #expect(!holds.stdout.contains("user-0"))
        }
    }

    @Test("flags a deployment sets come from LETHE_<FLAG>; a flag given wins; an invalid value names its variable (exit 64)")
    func environmentVariables() async throws {
        try await ServiceFixture.make(users: 1).use { fixture in
            var environment = fixture.environment
            environment["LETHE_POLICIES"] = fixture.policies.path
            environment["LETHE_STATE_DB"] = fixture.state
            let enqueued = try LetheExecutable.run(["enqueue", "--event-file", "-"], environment: environment, stdin: fixture.events(0..<1))
            #expect(enqueued.exitCode == 0, "\(enqueued.output)")
            #expect(try await fixture.requests().count == 1, "the request went to LETHE_STATE_DB")
            let listed = try LetheExecutable.run(["requests"], environment: environment)
            #expect(listed.exitCode == 0, "\(listed.output)")
            #expect(listed.stdout.contains("received"), "\(listed.stdout)")
            let other = fixture.state + "_other"
            let flagWins = try LetheExecutable.run(["requests", "--state-db", other], environment: environment)
            try? await fixture.pool.database(other).drop()
            #expect(flagWins.stdout.contains("no requests"), "\(flagWins.output)")
            let help = try LetheExecutable.run(["run", "--help"], environment: ["LETHE_BATCH_SIZE": "77"])
            #expect(help.stdout.contains("(default: 77)"), "\(help.stdout)")
            var invalid = environment
            invalid["LETHE_BATCH_SIZE"] = "lots"
            let refused = try LetheExecutable.run(["run", "--once"], environment: invalid)
            #expect(refused.exitCode == 64, "\(refused.output)")
            #expect(refused.stderr.contains("LETHE_BATCH_SIZE is 'lots', which is not a value for --batch-size"), "\(refused.stderr)")
            #expect(try await fixture.requests().allSatisfy { $0["state"] == "received" }, "nothing ran")
            let batchFlag = try LetheExecutable.run(["run", "--once", "--batch-size", "100"], environment: environment.merging(["LETHE_CONCURRENCY": "2"]) { $1 })
            #expect(batchFlag.exitCode == 0, "\(batchFlag.output)")
            #expect(batchFlag.stdout.contains("1 done"), "\(batchFlag.stdout)")
        }
    }

    @Test("--log-format json (or LETHE_LOG_FORMAT): each line a JSON object with timestamp, level, label, message and LogKey metadata")
    func jsonLogs() async throws {
        try await ServiceFixture.make(users: 2).use { fixture in
            let enqueued = try LetheExecutable.run(fixture.arguments(["enqueue", "--event-file", "-", "--log-format", "json"]),
                                                   environment: fixture.environment, stdin: fixture.events(0..<2))
            let run = try LetheExecutable.run(fixture.arguments(["run", "--once"]),
                                              environment: fixture.environment.merging(["LETHE_LOG_FORMAT": "json"]) { $1 })
            #expect(run.exitCode == 0, "\(run.output)")
            #expect(run.stdout.contains("2 done"), "the summary stays on standard output as text")
            var messages: [String] = []
            for line in (enqueued.stderr + run.stderr).split(separator: "\n") {
                let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
                let entry = try #require(object, "not a JSON object: \(line)")
                #expect(entry["timestamp"] is String && entry["level"] is String && entry["label"] is String, "\(line)")
                messages.append(try #require(entry["message"] as? String))
                if entry["message"] as? String == "batch finished" {
                    #expect(entry["lethe.requests"] as? Int == 2, "\(line)")
                    #expect(entry["lethe.done"] as? Int == 2, "\(line)")
                }
            }
            #expect(messages.contains("requests received") && messages.contains("batch finished"), "\(messages)")
            let text = try LetheExecutable.run(fixture.arguments(["run", "--once", "--log-level", "nonsense"]), environment: fixture.environment)
            #expect(text.exitCode == 64, "\(text.output)")
        }
    }

    @Test("run --once --metrics-file writes the run's metrics in Prometheus' text format, and leaves no temporary file")
    func metricsFile() async throws {
        try await ServiceFixture.make(users: 2).use { fixture in
            let enqueued = try LetheExecutable.run(fixture.arguments(["enqueue", "--event-file", "-"]), environment: fixture.environment,
                                                   stdin: fixture.events(0..<2))
            #expect(enqueued.exitCode == 0, "\(enqueued.output)")
            let directory = fixture.policies.appendingPathComponent("textfile")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let path = directory.appendingPathComponent("lethe.prom").path
            let run = try LetheExecutable.run(fixture.arguments(["run", "--once", "--metrics-file", path]), environment: fixture.environment)
            #expect(run.exitCode == 0, "\(run.output)")
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.contains("lethe_requests{state=\"done\"} 2"), "\(text)")
            #expect(text.contains("lethe_request_duration_seconds_count 2"))
            #expect(text.contains("lethe_requests_overdue 0"))
            #expect(text.contains("lethe_documents_total{action=\"delete\"} 4"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["lethe.prom"])
            let unwritable = try LetheExecutable.run(fixture.arguments(["run", "--once", "--metrics-file", "/nonexistent-dir/lethe.prom"]),
                                                     environment: fixture.environment)
            #expect(unwritable.exitCode == 65)
            #expect(unwritable.stderr.contains("cannot write the metrics to /nonexistent-dir/lethe.prom"))
        }
    }

    @Test("four lethe processes, one of them with three lanes, drain a backlog of 1,000 requests: each done exactly once, nothing left pending")
    func fourProcesses() async throws {
        let users = 1000
        try await ServiceFixture.make(users: users).use { fixture in
            let file = fixture.policies.appendingPathComponent("events.jsonl")
            try fixture.events(0..<users).write(to: file, atomically: true, encoding: .utf8)
            let enqueued = try LetheExecutable.run(fixture.arguments(["enqueue", "--event-file", file.path]), environment: fixture.environment)
            #expect(enqueued.exitCode == 0, "\(enqueued.output)")
            let noLanes = try LetheExecutable.run(fixture.arguments(["run", "--once", "--concurrency", "0"]), environment: fixture.environment)
            #expect(noLanes.exitCode == 64)
            #expect(noLanes.stderr.contains("--concurrency must be between 1 and 64"))
            let workers = try (0..<4).map { number in
                try LetheExecutable.start(fixture.arguments(["run", "--once", "--requests-per-batch", "50"] + (number == 0 ? ["--concurrency", "3"] : [])),
                                          environment: fixture.environment)
            }
            var results: [LetheExecutable.Result] = []
            for worker in workers { results.append(await worker.wait(timeout: .seconds(600))) }
            #expect(results.allSatisfy { $0.exitCode == 0 }, "\(results.map(\.output))")
            let counts = results.compactMap { result in
                result.stdout.split(separator: "\n").first { $0.hasPrefix("processed") }.flatMap { Int($0.split(separator: " ")[1]) }
            }
            #expect(counts.reduce(0, +) == users, "per process: \(counts)")
            let requests = try await fixture.requests()
            #expect(requests.count == users)
            #expect(requests.allSatisfy { $0["state"] == "done" && $0["attempts"]?.intValue == 1 && $0["lease"] == nil })
            #expect(try await fixture.database.collection("notes").countDocuments() == 0)
            #expect(try await fixture.database.collection("profiles").countDocuments(["name": "Deleted user"]) == users)
        }
    }

    @Test("a worker killed while holding leases: its requests are finished by another once the leases expire")
    func killedWorker() async throws {
        let users = 400
        try await ServiceFixture.make(users: users).use { fixture in
            let file = fixture.policies.appendingPathComponent("events.jsonl")
            try fixture.events(0..<users).write(to: file, atomically: true, encoding: .utf8)
            #expect(try LetheExecutable.run(fixture.arguments(["enqueue", "--event-file", file.path]), environment: fixture.environment).exitCode == 0)
            let doomed = try LetheExecutable.start(fixture.arguments(["run", "--once", "--requests-per-batch", "100", "--lease-seconds", "3"]), environment: fixture.environment)
            // Kill it as soon as it holds leases.
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline, try await fixture.pool.database(fixture.state).collection("requests").countDocuments(["lease": ["$ne": .null]]) == 0 {
                try await Task.sleep(for: .milliseconds(20))
            }
            doomed.signal(SIGKILL)
            _ = await doomed.wait()
            try await Task.sleep(for: .seconds(3.5))
            let rescue = try LetheExecutable.run(fixture.arguments(["run", "--once"]), environment: fixture.environment)
            #expect(rescue.exitCode == 0, "\(rescue.output)")
            let requests = try await fixture.requests()
            #expect(requests.allSatisfy { $0["state"] == "done" && $0["lease"] == nil })
            #expect(try await fixture.database.collection("notes").countDocuments() == 0)
        }
    }

    @Test("serve with a 60 s poll erases what lethe enqueue records within 15 s, through a change stream; --change-streams off still polls (with two lanes); both stop promptly")
    func changeStreams() async throws {
        try await ServiceFixture.make(users: 2).use { fixture in
            let help = try LetheExecutable.run(["serve", "--help"])
            #expect(help.stdout.contains("--change-streams <auto|off>"))
            let bad = try LetheExecutable.run(fixture.arguments(["serve", "--no-http", "--change-streams", "sometimes"]), environment: fixture.environment)
            #expect(bad.exitCode == 64)
            #expect(bad.stderr.contains("auto") && bad.stderr.contains("off"))
            let noLanes = try LetheExecutable.run(fixture.arguments(["serve", "--no-http", "--concurrency", "0"]), environment: fixture.environment)
            #expect(noLanes.exitCode == 64)
            #expect(noLanes.stderr.contains("--concurrency must be between 1 and 64"))

            // A standalone server has none: there auto must say so and poll.
            let streams = try await TestServer.offersChangeStreams(fixture.pool)
            for (mode, poll, user, lanes) in [("auto", streams ? "60" : "0.3", 0, "1"), ("off", "0.3", 1, "2")] {
                let serve = try LetheExecutable.start(fixture.arguments(["serve", "--no-http", "--poll-seconds", poll, "--change-streams", mode,
                                                                         "--concurrency", lanes]), environment: fixture.environment)
                let started = ContinuousClock.now + .seconds(30)
                while ContinuousClock.now < started, !serve.stderrSoFar.contains("worker started") { try await Task.sleep(for: .milliseconds(50)) }
                #expect(serve.stderrSoFar.contains("change streams \(mode), \(lanes) batch(es) at once"))
                // Past serve's first pass: with a 60 s poll, only a change stream can find it in time.
                try await Task.sleep(for: .seconds(1))
                let enqueued = try LetheExecutable.run(fixture.arguments(["enqueue", "--event-file", "-"]), environment: fixture.environment,
                                                       stdin: fixture.events(user..<(user + 1)))
                #expect(enqueued.exitCode == 0, "\(enqueued.output)")
                let deadline = ContinuousClock.now + .seconds(15)
                var done = 0
                while ContinuousClock.now < deadline {
                    done = try await fixture.requests().filter { $0["state"] == "done" }.count
                    if done == user + 1 { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(done == user + 1, "--change-streams \(mode): the request was not done within 15 s")
                serve.signal(SIGTERM)
                let result = await serve.wait(timeout: .seconds(15))
                #expect(result.exitCode == 0, "\(result.output)")
                #expect(result.stderr.contains("lethe serve: stopped"))
                #expect(result.stderr.contains("falls back to polling") == (mode == "auto" && !streams), "\(result.stderr)")
            }
        }
    }

    @Test("serve stops cleanly on SIGTERM and SIGINT; without credentials it serves HTTP with no event intake")
    func gracefulShutdown() async throws {
        try await ServiceFixture.make(users: 0).use { fixture in
            let port = Int.random(in: 20_000...40_000)
            for (signal, http) in [(SIGTERM, ["--no-http"]), (SIGINT, ["--listen", "127.0.0.1:\(port)"])] {
                let serve = try LetheExecutable.start(fixture.arguments(["serve", "--poll-seconds", "0.2"] + http), environment: fixture.environment)
                let deadline = ContinuousClock.now + .seconds(30)
                while ContinuousClock.now < deadline, !serve.stderrSoFar.contains("worker started") { try await Task.sleep(for: .milliseconds(50)) }
                serve.signal(signal)
                let result = await serve.wait(timeout: .seconds(30))
                #expect(result.exitCode == 0, "\(result.output)")
                #expect(result.stderr.contains("lethe serve: stopped"))
                #expect(result.stderr.contains("no event intake") == (http.first == "--listen"), "\(result.stderr)")
            }
        }
    }
}
