import Foundation
@testable import LetheCore
import Testing

@Suite("Cron schedules")
struct CronScheduleTests {
    static func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    @Test("next run times", arguments: [
        ("0 3 * * *", "2026-11-23T01:21:00Z", "2026-11-23T03:00:00Z"),
        ("0 3 * * *", "2026-11-23T03:00:00Z", "2026-11-24T03:00:00Z"),
        ("*/15 * * * *", "2026-11-23T01:21:30Z", "2026-11-23T01:30:00Z"),
        ("30 2 1 * *", "2026-11-23T00:00:00Z", "2026-12-01T02:30:00Z"),
        ("0 0 * * 0", "2026-11-23T00:00:00Z", "2026-11-29T00:00:00Z"),  // Sunday
        ("0 0 * * 7", "2026-11-23T00:00:00Z", "2026-11-29T00:00:00Z"),
        ("0 12 * * 1-5", "2026-11-28T13:00:00Z", "2026-11-30T12:00:00Z"),  // Saturday to Monday
        ("0 0 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"),
        ("@daily", "2026-12-31T23:59:00Z", "2027-01-01T00:00:00Z"),
        ("5,10 1 * * *", "2026-11-23T01:07:00Z", "2026-11-23T01:10:00Z"),
        ("0 0 13 * 5", "2026-11-01T00:00:00Z", "2026-11-06T00:00:00Z"),  // 13th or any Friday
    ])
    func next(expression: String, after: String, expected: String) throws {
        #expect(try CronSchedule(expression).next(after: Self.date(after)) == Self.date(expected))
    }

    @Test("an impossible date never runs")
    func impossible() throws {
        #expect(try CronSchedule("0 0 30 2 *").next(after: Self.date("2026-01-01T00:00:00Z")) == nil)
    }

    @Test("bad expressions say which field and what is expected", arguments: [
        ("0 3 * *", "it has 4 field(s)"),
        ("61 * * * *", "minute field '61': 61-61 is outside 0-59"),
        ("* 25 * * *", "hour field '25'"),
        ("*/0 * * * *", "step '0' must be a positive number"),
        ("a * * * *", "'a' is not a number"),
        ("5-1 * * * *", "'5-1' is not a range low-high"),
    ])
    func invalid(expression: String, problem: String) throws {
        let error = try #require(throws: CronSchedule.ParseError.self) { try CronSchedule(expression) }
        #expect(error.description.contains(problem))
        #expect(error.description.contains("'0 3 * * *'"))
    }
}
