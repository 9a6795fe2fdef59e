import Foundation
@testable import LetheCore
import Testing

extension ReportTests {
    @Suite("Report formats")
    struct Formats {
        let report = ReportFixture.report
        typealias F = ReportFixture

        static func occurrences(of needle: String, in text: String) -> Int {
            text.components(separatedBy: needle).count - 1
        }

        @Test("HTML: one self-contained page, one SVG per chart, nothing fetched", arguments: [ReportFixture.report, ReportFixture.empty])
        func htmlSelfContained(report: ComplianceReport) throws {
            let html = try report.render(.html)
            #expect(html.hasPrefix("<!DOCTYPE html>\n<html lang=\"en\">"))
            #expect(html.hasSuffix("</html>\n"))
            #expect(Self.occurrences(of: "<svg", in: html) == 3)
            #expect(Self.occurrences(of: "</svg>", in: html) == 3)
            for id in ["chart-days", "chart-completion", "chart-documents"] {
                #expect(html.contains("<title id=\"\(id)-title\">"), "\(id) has a title")
                #expect(html.contains("aria-describedby=\"\(id)-desc\""), "\(id) is described")
            }
            #expect(Self.occurrences(of: "role=\"img\" aria-label=\"", in: html) == 3)
            for external in ["http://", "https://", "src=", "href=", "url(", "@import", "<script", "<link", "<img", "<iframe", "xlink"] {
                #expect(!html.lowercased().contains(external), "no \(external)")
            }
            #expect(html.contains("@media print"))
            #expect(html.contains("break-before: page"))
            #expect(html.contains("break-inside: avoid"))
            #expect(html.contains("print-color-adjust: exact"))
        }

        @Test("HTML: every string from outside is escaped (a reason holding <script>, a name with quotes)")
        func htmlEscaped() throws {
            let html = try report.render(.html)
            #expect(!html.contains("<script"))
            #expect(html.contains("tax law: invoices kept 10 years &lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(html.contains("litigation &lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(html.contains("legal, &quot;EU&quot;"))
            #expect(!html.contains("legal, \"EU\""))
        }

        @Test("HTML: the charts draw the figures: day bars, a deadline line, a bar per collection and action")
        func htmlCharts() throws {
            let html = try report.render(.html)
            #expect(html.contains("<title>2026-11-03: 2 refused</title>"))
            #expect(html.contains("<title>2026-11-04: 2 completed</title>"))
            #expect(html.contains("stroke-dasharray=\"6 3\"/>"), "the deadline line")
            #expect(html.contains(">deadline 30 d</text>"))
            #expect(html.contains(">deadline 5 h</text>"))
            #expect(html.contains("<title>\(F.r05.id): 10 h (10.00 h) of 5 h allowed</title>"))
            #expect(html.contains("<title>todo.Item: 22 deleted</title>"))
            #expect(html.contains("<title>todo.Order: 5 retained</title>"))
            #expect(html.contains("<title>todo.Comment: 10 anonymized</title>"))
            #expect(html.contains("<title>todo.Project: 3 pulled from</title>"))
            // Legends are inside the charts, so that they print with them.
            #expect(Self.occurrences(of: "<g class=\"legend\"", in: html) == 3)
        }

        @Test("CSV: one row per request, RFC 4180 quoting of a comma and a quote, CRLF")
        func csv() throws {
            let csv = try report.render(.csv)
            let rows = csv.components(separatedBy: "\r\n")
            #expect(rows.count == 12, "header, 10 requests, and the empty string after the last CRLF")
            #expect(rows.last == "")
            #expect(rows[0] == "id,received,due,finished,state,source,hours_to_complete,seconds_to_complete,overdue,policies")
            #expect(rows.contains(
                "req_20261105T080000_000005,2026-11-05T08:00:00Z,2026-11-05T13:00:00Z,2026-11-05T18:00:00Z,done,inbox,10.00,36000,yes,"
                    + "\"legal, \"\"EU\"\" (sha256:3333333333333333)\""))
            #expect(rows.contains(
                "req_20261101T000000_000007,2026-11-01T00:00:00Z,2026-12-01T00:00:00Z,,held,inbox,,,yes,todo-app (sha256:1111111111111111)"))
            #expect(rows.contains(
                "req_20261102T100000_000001,2026-11-02T10:00:00Z,2026-12-02T10:00:00Z,2026-11-02T11:00:00Z,done,inbox,1.00,3600,no,todo-app (sha256:1111111111111111)"))
            let bytes = Array(csv.utf8)
            #expect(bytes.indices.allSatisfy { bytes[$0] != 0x0A || ($0 > 0 && bytes[$0 - 1] == 0x0D) }, "no bare line feeds")
        }

        @Test("CSV: a field a spreadsheet would run as a formula is defused; a line break is quoted")
        func csvFormula() throws {
            var request = F.r09
            request.policies = [PolicyReference(name: "two\nlines", fingerprint: "sha256:5555555555555555")]
            var formula = F.r10
            formula.policies = [PolicyReference(name: "=HYPERLINK(\"x\")", fingerprint: "sha256:6666666666666666")]
            let csv = try ComplianceReport.build(period: F.period, requests: [request, formula], receipts: [], policies: [], sweeps: [], now: F.now)
                .render(.csv)
            #expect(csv.contains(",\"'=HYPERLINK(\"\"x\"\") (sha256:6666666666666666)\""))
            #expect(csv.contains(",\"two\nlines (sha256:5555555555555555)\"\r\n"))
        }

        @Test("JSON: the schema key, sorted keys, ISO-8601 dates, and it reads back to an equal report",
              arguments: [ReportFixture.report, ReportFixture.empty])
        func jsonRoundTrip(report: ComplianceReport) throws {
            let json = try report.render(.json)
            #expect(json.contains("\"schema\" : \"lethe.report/v1\""))
            #expect(try report.render(.json) == json, "stable")

            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            let decoded = try decoder.decode(ComplianceReport.self, from: Data(json.utf8))
            #expect(decoded == report)
            #expect(try ComplianceReport.decode(json: Data(json.utf8)) == report)

            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            #expect(object["schema"] as? String == "lethe.report/v1")
            #expect(object["generatedAt"] as? String == "2026-12-03T12:00:00Z")
            let topKeys = json.split(separator: "\n").filter { $0.hasPrefix("  \"") }.map { $0.split(separator: "\"")[1] }
            #expect(topKeys == topKeys.sorted())
        }

        @Test("JSON: a report of another schema is refused with a plain message")
        func jsonOtherSchema() throws {
            let json = try report.render(.json).replacingOccurrences(of: "lethe.report/v1", with: "lethe.report/v2")
            #expect {
                try ComplianceReport.decode(json: Data(json.utf8))
            } throws: { error in
                "\(error)" == "the report's schema is 'lethe.report/v2'; this build reads 'lethe.report/v1'"
            }
        }

        @Test("Markdown: tables of every section, strings escaped")
        func markdown() throws {
            let md = try report.render(.md)
            #expect(md.hasPrefix("# Lethe compliance report\n"))
            for heading in ["## Summary", "## 1. Requests received", "## 2. Time to completion and deadlines", "## 3. Documents by collection",
                            "## 4. Sweeps", "## 5. Policies in force", "## 6. Requests per day (UTC)", "## 7. Every request received"] {
                #expect(md.contains("\n\(heading)\n"), "\(heading)")
            }
            #expect(md.contains("| completed | 5 |"))
            #expect(md.contains("| **received (requests)** | **10** |"))
            #expect(md.contains("| `todo.Item` | 22 | 0 | 0 | 0 | 3 | 0 |"))
            #expect(md.contains("| 5 | 3 h (3.00 h, 10800 s) | 10 h (10.00 h, 36000 s) | 10 h (10.00 h, 36000 s) | 4 | 1 | 0 |"))
            #expect(md.contains("tax law: invoices kept 10 years &lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(!md.contains("<script"))
            #expect(md.contains("| `req_20261015T000000_0000bb` (earlier period) | **overdue** | held |"))
        }

        @Test("Markdown: a pipe in author text does not break a table")
        func markdownPipe() throws {
            var request = F.r07
            request.note = "held | see ticket *42*"
            let md = try ComplianceReport.build(period: F.period, requests: [request], receipts: [], policies: [], sweeps: [], now: F.now)
                .render(.md)
            #expect(md.contains("held \\| see ticket \\*42\\*"))
        }

        @Test("no format shows a raw user id, identity, pseudonym or request reason")
        func noPersonalData() throws {
            let requests = F.requests
            #expect(requests.filter { $0.state != .done }.allSatisfy { $0.subject?.userId == F.rawUserId }, "open requests keep raw ids")
            let secrets = [F.rawUserId, F.rawIdentity, F.requestReason, "alice", "example.com", "bob@", "subj_"]
                + requests.map(\.subjectPseudonym)
            for format in ReportFormat.allCases {
                for report in [F.report, F.empty] {
                    let text = try report.render(format)
                    for secret in secrets {
                        #expect(!text.contains(secret), "\(format) shows \(secret)")
                    }
                }
            }
        }

        @Test("render takes every format")
        func everyFormat() throws {
            #expect(ReportFormat.allCases.map(\.rawValue) == ["html", "md", "json", "csv"])
            for format in ReportFormat.allCases {
                #expect(try !report.render(format).isEmpty)
            }
        }
    }
}
