import Foundation

/// A five-field cron expression (`minute hour day-of-month month day-of-week`), in UTC,
/// for `serve`'s sweeps. Each field takes `*`, a number, a range `a-b`, a step `*/n` or
/// `a-b/n`, and comma lists of those. Day of week is 0-7 (0 and 7 are Sunday). When
/// both day fields are restricted, a day matching either runs, as in classic cron.
/// `@hourly`, `@daily`, `@weekly`, `@monthly` are accepted.
public struct CronSchedule: Sendable, Hashable, CustomStringConvertible {
    public let expression: String
    let minutes: Set<Int>
    let hours: Set<Int>
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    let daysOfWeek: Set<Int>
    let dayOfMonthRestricted: Bool
    let dayOfWeekRestricted: Bool

    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public let expression: String
        public let problem: String
        public var description: String {
            "invalid cron expression '\(expression)': \(problem); expected five fields 'minute hour day-of-month month day-of-week' such as '0 3 * * *' (03:00 UTC daily), or @hourly, @daily, @weekly, @monthly"
        }
    }

    public init(_ expression: String) throws(ParseError) {
        let macros = ["@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *"]
        let trimmed = expression.trimmingCharacters(in: .whitespaces)
        let text = macros[trimmed] ?? trimmed
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw ParseError(expression: expression, problem: "it has \(fields.count) field(s)")
        }
        func field(_ index: Int, _ name: String, _ range: ClosedRange<Int>) throws(ParseError) -> Set<Int> {
            do { return try Self.parse(fields[index], range: range) } catch let problem {
                throw ParseError(expression: expression, problem: "\(name) field '\(fields[index])': \(problem.text)")
            }
        }
        self.expression = expression
        minutes = try field(0, "minute", 0...59)
        hours = try field(1, "hour", 0...23)
        daysOfMonth = try field(2, "day-of-month", 1...31)
        months = try field(3, "month", 1...12)
        daysOfWeek = Set(try field(4, "day-of-week", 0...7).map { $0 % 7 })
        dayOfMonthRestricted = fields[2] != "*"
        dayOfWeekRestricted = fields[4] != "*"
    }

    struct FieldProblem: Error { let text: String }

    static func parse(_ field: String, range: ClosedRange<Int>) throws(FieldProblem) -> Set<Int> {
        var values = Set<Int>()
        for part in field.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2, !pieces[0].isEmpty else { throw FieldProblem(text: "'\(part)' is not a value, range or step") }
            var step = 1
            if pieces.count == 2 {
                guard let parsed = Int(pieces[1]), parsed > 0 else { throw FieldProblem(text: "step '\(pieces[1])' must be a positive number") }
                step = parsed
            }
            var bounds: ClosedRange<Int>
            if pieces[0] == "*" {
                bounds = range
            } else if let dash = pieces[0].firstIndex(of: "-") {
                guard let low = Int(pieces[0][..<dash]), let high = Int(pieces[0][pieces[0].index(after: dash)...]), low <= high else {
                    throw FieldProblem(text: "'\(pieces[0])' is not a range low-high")
                }
                bounds = low...high
            } else {
                guard let single = Int(pieces[0]) else { throw FieldProblem(text: "'\(pieces[0])' is not a number") }
                bounds = single...(pieces.count == 2 ? range.upperBound : single)
            }
            guard range.contains(bounds.lowerBound), range.contains(bounds.upperBound) else {
                throw FieldProblem(text: "\(bounds.lowerBound)-\(bounds.upperBound) is outside \(range.lowerBound)-\(range.upperBound)")
            }
            values.formUnion(stride(from: bounds.lowerBound, through: bounds.upperBound, by: step))
        }
        return values
    }

    public var description: String { expression }

    static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    /// The first minute strictly after `date` that the schedule matches, or nil when
    /// none comes within five years (such as February 30th).
    public func next(after date: Date) -> Date? {
        let calendar = Self.calendar
        var components = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        components.second = 0
        guard var candidate = calendar.date(from: components).flatMap({ calendar.date(byAdding: .minute, value: 1, to: $0) }) else { return nil }
        let limit = date.addingTimeInterval(5 * 366 * 86_400)
        while candidate <= limit {
            let c = calendar.dateComponents([.month, .day, .hour, .minute, .weekday], from: candidate)
            if !months.contains(c.month!) {
                candidate = calendar.date(from: calendar.dateComponents([.year, .month], from: candidate)).flatMap { calendar.date(byAdding: .month, value: 1, to: $0) }!
                continue
            }
            if !dayMatches(day: c.day!, weekday: c.weekday! - 1) {
                candidate = calendar.date(byAdding: .day, value: 1, to: calendar.startOfDay(for: candidate))!
                continue
            }
            if !hours.contains(c.hour!) {
                candidate = calendar.date(from: calendar.dateComponents([.year, .month, .day, .hour], from: candidate)).flatMap { calendar.date(byAdding: .hour, value: 1, to: $0) }!
                continue
            }
            if !minutes.contains(c.minute!) {
                candidate = calendar.date(byAdding: .minute, value: 1, to: candidate)!
                continue
            }
            return candidate
        }
        return nil
    }

    private func dayMatches(day: Int, weekday: Int) -> Bool {
        switch (dayOfMonthRestricted, dayOfWeekRestricted) {
        case (true, true): daysOfMonth.contains(day) || daysOfWeek.contains(weekday)
        case (true, false): daysOfMonth.contains(day)
        case (false, true): daysOfWeek.contains(weekday)
        case (false, false): true
        }
    }
}
