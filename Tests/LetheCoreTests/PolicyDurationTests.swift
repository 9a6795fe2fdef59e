import Foundation
import LetheCore
import Testing

@Suite("Policy: durations")
struct PolicyDurationTests {
    static func date(_ text: String) throws -> Date {
        let formatter = ISO8601DateFormatter()
        return try #require(formatter.date(from: text))
    }

    @Test("written forms parse and print back", arguments: [
        ("30d", 30, PolicyDuration.Unit.day), ("1w", 1, .week), ("6mo", 6, .month), ("10y", 10, .year),
        ("180d", 180, .day), ("007d", 7, .day),
    ])
    func parses(text: String, count: Int, unit: PolicyDuration.Unit) throws {
        let duration = try #require(PolicyDuration(parsing: text))
        #expect(duration.count == count)
        #expect(duration.unit == unit)
        #expect(duration.description == "\(count)\(unit.rawValue)")
    }

    @Test("anything else is refused", arguments: [
        "", "d", "0d", "-1d", "30", "30 d", "30days", "1m", "1h", "1.5y", "+3d", "3D", "100001d", "99999999999999999999d",
    ])
    func refuses(text: String) {
        #expect(PolicyDuration(parsing: text) == nil)
    }

    @Test("months are calendar months: 31 January plus one month is the last day of February")
    func monthEnd() throws {
        let month = PolicyDuration(1, .month)
        #expect(month.added(to: try Self.date("2025-01-31T12:00:00Z")) == (try Self.date("2025-02-28T12:00:00Z")))
        #expect(month.added(to: try Self.date("2024-01-31T12:00:00Z")) == (try Self.date("2024-02-29T12:00:00Z")))
        #expect(month.subtracted(from: try Self.date("2025-03-31T00:00:00Z")) == (try Self.date("2025-02-28T00:00:00Z")))
        #expect(PolicyDuration(6, .month).added(to: try Self.date("2025-08-31T00:00:00Z"))
            == (try Self.date("2026-02-28T00:00:00Z")))
    }

    @Test("years keep the calendar date, and 29 February falls back to the 28th")
    func years() throws {
        #expect(PolicyDuration(10, .year).added(to: try Self.date("2020-03-01T00:00:00Z"))
            == (try Self.date("2030-03-01T00:00:00Z")))
        #expect(PolicyDuration(1, .year).added(to: try Self.date("2024-02-29T08:00:00Z"))
            == (try Self.date("2025-02-28T08:00:00Z")))
    }

    @Test("days and weeks count whole UTC days, whatever the machine's time zone")
    func daysAndWeeks() throws {
        let start = try Self.date("2025-03-28T23:30:00Z")  // spans the EU daylight-saving change
        #expect(PolicyDuration(30, .day).added(to: start) == start.addingTimeInterval(30 * 86_400))
        #expect(PolicyDuration(2, .week).added(to: start) == start.addingTimeInterval(14 * 86_400))
        #expect(PolicyDuration(180, .day).subtracted(from: start) == start.addingTimeInterval(-180 * 86_400))
    }

    @Test("a given calendar is used instead of UTC")
    func otherCalendar() throws {
        var berlin = Calendar(identifier: .gregorian)
        berlin.timeZone = try #require(TimeZone(identifier: "Europe/Berlin"))
        let start = try Self.date("2025-03-29T12:00:00Z")  // 13:00 in Berlin, the day before DST starts
        // One calendar day later in Berlin is 13:00 local again, only 23 hours later.
        #expect(PolicyDuration(1, .day).added(to: start, calendar: berlin) == start.addingTimeInterval(23 * 3600))
    }

    @Test("in a policy, a bad duration says what is wrong and how to write it", arguments: [
        ("30 days", "write 30d"),
        ("6m", "'m' could mean minutes or months; write 6mo for months"),
        ("0d", "a duration must be at least 1"),
        ("30", "add a unit: 30d for days, 30w for weeks, 30mo for months, 30y for years"),
        ("12h", "the smallest unit is a day (d); deadlines and retention periods are counted in days"),
        ("-5d", "durations count forward and must be positive"),
        ("5q", "units are d (days), w (weeks), mo (months) and y (years)"),
    ])
    func diagnostics(text: String, hint: String) {
        let messages = PolicyTestSupport.load("version: 1\nname: t\ndatabase: db\ndeadline: \(text)\nrules: []\n")
            .errors.map(\.description)
        #expect(messages == [
            "p.yaml:4:11: error: deadline: invalid duration '\(text)'; expected a duration: a whole number and d, w, mo "
                + "or y (30d, 2w, 6mo, 10y) (hint: \(hint))"
        ])
    }
}
