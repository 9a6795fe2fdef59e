import BSON
import Foundation
import LetheTestSupport
import MongoKit
import Testing

/// The HTML report as a browser lays it out: headless Chromium prints it to PDF and
/// takes a screenshot; the PDF's text (chart labels included) is read back. Nil, with
/// the test passing, only when the tools are absent and LETHE_REQUIRE_BROWSER is unset
/// (scripts/test.sh installs them and sets it).
enum BrowserRendering {
    struct Rendered {
        var text: String
        var pages: Int
        var screenshotWidth: Int
    }

    static func tool(_ name: String) -> String? {
        ["/usr/bin/\(name)", "/usr/local/bin/\(name)"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func run(_ path: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    static func render(_ html: URL) throws -> Rendered? {
        guard let chromium = tool("chromium"), let pdftotext = tool("pdftotext"), let pdfinfo = tool("pdfinfo") else {
            if ProcessInfo.processInfo.environment["LETHE_REQUIRE_BROWSER"] == "1" {
                Issue.record("chromium and poppler-utils are required (scripts/test.sh installs them)")
            }
            return nil
        }
        let pdf = html.deletingPathExtension().appendingPathExtension("pdf")
        let png = html.deletingPathExtension().appendingPathExtension("png")
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"]
        _ = try run(chromium, common + ["--print-to-pdf=\(pdf.path)", "--no-pdf-header-footer", html.absoluteString])
        _ = try run(chromium, common + ["--window-size=1200,1600", "--screenshot=\(png.path)", html.absoluteString])
        let text = try run(pdftotext, ["-layout", pdf.path, "-"])
        let pages = try run(pdfinfo, [pdf.path]).split(separator: "\n").first { $0.hasPrefix("Pages:") }
            .flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        // PNG: width is the big-endian UInt32 at bytes 16..<20 (the IHDR chunk).
        let header = [UInt8](try Data(contentsOf: png).prefix(24))
        let width = header.count == 24 ? header[16..<20].reduce(0) { $0 << 8 | Int($1) } : 0
        return Rendered(text: text, pages: pages, screenshotWidth: width)
    }
}

@Suite("lethe report and the no-personal-data guarantee (integration)", .enabled(if: TestServer.isConfigured, TestServer.skipReason))
struct CLIReportTests {
    @Test("users erased through every channel: no id, identity or email in any report, receipt or log line")
    func noPersonalData() async throws {
        let pool = try TestServer.pool()
        let database = pool.database(TestServer.uniqueDatabaseName("rpt"))
        let state = database.name + "_state"
        let policies = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-rpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: policies, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: policies) }
        try """
        version: 1
        name: rpt
        database: \(database.name)
        rules:
          - { collection: notes, match: owner, action: delete }
          - collection: profiles
            match: user_id
            action: anonymize
            set: { name: Deleted user }
            unset: [email]
            pseudonymize: [user_id]
          - { collection: invoices, match: customer, action: retain, reason: Tax law (10 years) }
        retention:
          - { collection: sessions, field: seen, olderThan: 30d, action: delete }
        """.write(to: policies.appendingPathComponent("rpt.yaml"), atomically: true, encoding: .utf8)

        let people = [("uid-alice-7731", "idn-alice-9912", "alice.secret@example.com"),
                      ("uid-bob-5520", "idn-bob-4410", "bob.secret@example.org"),
                      ("uid-carol-3301", "idn-carol-2203", "carol.secret@example.net")]
        for (user, identity, email) in people {
            try await database.collection("notes").insertMany([["owner": .string(user)], ["owner": .string(identity)]])
            try await database.collection("profiles").insertOne(["user_id": .string(user), "name": "Someone", "email": .string(email)])
            try await database.collection("invoices").insertOne(["customer": .string(user), "total": 10])
        }
        try await database.collection("sessions").insertOne(["seen": .datetime(BSONDatetime(Date().addingTimeInterval(-90 * 86_400)))])
        // Carol arrives as an App Services event through the inbox, with her email in user.data.
        try await pool.database(state).collection("inbox").insertOne([
            "operationType": "DELETE", "providers": ["local-userpass"],
            "user": ["id": .string(people[2].0), "identities": [["id": .string(people[2].1), "provider_type": "local-userpass"]],
                     "data": ["email": .string(people[2].2)]],
            "time": .datetime(BSONDatetime(Date())),
        ])

        let environment = ["LETHE_MONGODB_URI": TestServer.uri!, "LETHE_HASH_KEY": String(repeating: "7e", count: 32)]
        func lethe(_ arguments: [String], policies usePolicies: Bool = true, stdin: String? = nil) throws -> LetheExecutable.Result {
            try LetheExecutable.run(arguments + (usePolicies ? ["--policies", policies.path] : []) + ["--state-db", state],
                                    environment: environment, stdin: stdin)
        }
        var outputs: [String] = []
        let alice = try lethe(["erase", "--user", people[0].0, "--identity", people[0].1, "--reason", "user asked"])
        #expect(alice.exitCode == 0, "\(alice.output)")
        outputs.append(alice.output)
        let bobEvent = #"{"specversion":"1.0","id":"e-bob","source":"auth","type":"user.deleted","data":{"userId":"\#(people[1].0)","identities":["\#(people[1].1)"]}}"#
        outputs.append(try lethe(["enqueue", "--event-file", "-"], stdin: bobEvent).output)
        outputs.append(try lethe(["enqueue", "--event-file", "-"], stdin: #"{"operationType":"DELETE","user":{"id":"has a space \#(people[0].2)"},"time":"2026-11-01T00:00:00Z"}"#).output)
        let run = try lethe(["run", "--once"])
        #expect(run.exitCode == 0, "\(run.output)")
        outputs.append(run.output)
        outputs.append(try lethe(["sweep"]).output)
        outputs.append(try lethe(["requests"], policies: false).output)
        outputs.append(try lethe(["refusals"], policies: false).output)
        for id in try await pool.database(state).collection("requests").find().toArray().compactMap({ $0["_id"]?.stringValue }) {
            outputs.append(try lethe(["receipt", id], policies: false).output)
            outputs.append(try lethe(["receipt", id, "--json"], policies: false).output)
            for format in ["md", "html"] {
                let certificate = try lethe(["receipt", id, "--format", format], policies: false)
                #expect(certificate.exitCode == 0)
                #expect(certificate.stdout.contains("Certificate of erasure"))
                outputs.append(certificate.output)
            }
        }
        for format in ["html", "md", "json", "csv"] {
            let file = policies.appendingPathComponent("report.\(format)")
            let report = try lethe(["report", "--format", format, "--out", file.path], policies: false)
            #expect(report.exitCode == 0, "\(report.output)")
            outputs.append(report.output)
            outputs.append(try String(contentsOf: file, encoding: .utf8))
        }
        // Everything kept in Lethe's own database too.
        outputs.append(try lethe(["audit"], policies: false).output)
        outputs.append(try lethe(["audit", "--json"], policies: false).output)
        for name in ["requests", "receipts", "refusals", "sweeps", "holds", "policies", "audit", "runs", "retained", "retainedGroups"] {
            outputs += try await pool.database(state).collection(name).find().toArray().map { $0.extendedJSON(.canonical) }
        }

        if let rendered = try BrowserRendering.render(policies.appendingPathComponent("report.html")) {
            #expect(rendered.pages >= 2, "the report prints over several pages")
            for text in ["Lethe compliance report", "Requests received", "Day received (UTC)", "completed", "Tax law (10 years)"] {
                #expect(rendered.text.contains(text), "rendered page lacks \(text)")
            }
            #expect(rendered.screenshotWidth == 1200)
            outputs.append(rendered.text)
        }

        let everything = outputs.joined(separator: "\n")
        #expect(everything.contains("lethe.report/v1"))
        #expect(everything.contains("Tax law (10 years)"))
        for (user, identity, email) in people {
            for secret in [user, identity, email, String(email.split(separator: "@")[0])] {
                #expect(!everything.contains(secret), "\(secret) leaked")
            }
        }
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: policies.appendingPathComponent("report.json"))) as? [String: Any]
        let outcomes = json?["outcomes"] as? [String: Any]
        #expect(outcomes?["completed"] as? Int == 3)
        #expect(outcomes?["refused"] as? Int == 1)

        try await database.drop()
        try await pool.database(state).drop()
        await pool.shutdown()
    }

    @Test("report flags: a bad date, an inverted period, an unknown format")
    func flags() throws {
        for (arguments, message) in [
            (["--from", "2026-13-01"], "is not a date"),
            (["--from", "2026-11-02", "--to", "2026-11-01"], "--from must be before --to"),
            (["--format", "pdf"], "--format must be html, md, json or csv"),
        ] {
            let result = try LetheExecutable.run(["report"] + arguments)
            #expect(result.exitCode == 64)
            #expect(result.stderr.contains(message))
        }
    }
}
