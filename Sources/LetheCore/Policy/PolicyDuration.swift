import Foundation

/// A calendar duration written in a policy: a positive whole number and a unit,
/// `30d`, `2w`, `6mo`, `10y`.
///
/// Months and years are calendar months and years, not fixed numbers of days:
/// 31 January plus `1mo` is the last day of February.
public struct PolicyDuration: Sendable, Hashable, CustomStringConvertible {
    public enum Unit: String, Sendable, Hashable, CaseIterable {
        case day = "d"
        case week = "w"
        case month = "mo"
        case year = "y"

        /// The unit as a word, for messages: "days", "weeks", "months", "years".
        public var pluralName: String {
            switch self {
            case .day: "days"
            case .week: "weeks"
            case .month: "months"
            case .year: "years"
            }
        }
    }

    /// The largest count a policy may write (about 270 years in days); larger
    /// numbers are certainly typing mistakes.
    public static let maximumCount = 100_000

    /// The Gregorian calendar in UTC, used by default for all arithmetic so that a
    /// deadline does not move with the time zone of the machine that computes it.
    public static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
        return calendar
    }()

    public let count: Int
    public let unit: Unit

    /// `count` must be between 1 and `maximumCount`.
    public init(_ count: Int, _ unit: Unit) {
        precondition((1...Self.maximumCount).contains(count), "PolicyDuration count must be in 1...\(Self.maximumCount)")
        self.count = count
        self.unit = unit
    }

    /// Parses the policy form (`30d`, `6mo`); nil for anything else, including zero,
    /// negative numbers, spaces, and unknown units.
    public init?(parsing text: String) {
        guard case .success(let duration) = Self.parse(text) else { return nil }
        self = duration
    }

    /// The policy form: `30d`, `6mo`.
    public var description: String { "\(count)\(unit.rawValue)" }

    /// `date` moved forward by this duration on `calendar` (UTC Gregorian by default).
    public func added(to date: Date, calendar: Calendar = PolicyDuration.calendar) -> Date {
        move(date, by: 1, calendar: calendar)
    }

    /// `date` moved back by this duration on `calendar` (UTC Gregorian by default):
    /// the cut-off for "older than".
    public func subtracted(from date: Date, calendar: Calendar = PolicyDuration.calendar) -> Date {
        move(date, by: -1, calendar: calendar)
    }

    private func move(_ date: Date, by sign: Int, calendar: Calendar) -> Date {
        let (component, value): (Calendar.Component, Int) =
            switch unit {
            case .day: (.day, count)
            case .week: (.day, count * 7)
            case .month: (.month, count)
            case .year: (.year, count)
            }
        if let moved = calendar.date(byAdding: component, value: sign * value, to: date) {
            return moved
        }
        // Only reachable with a calendar that cannot represent the result; fall back to
        // average lengths rather than crash.
        let days: Double =
            switch unit {
            case .day: 1
            case .week: 7
            case .month: 30.436875
            case .year: 365.2425
            }
        return date.addingTimeInterval(Double(sign) * Double(count) * days * 86_400)
    }

    /// Why a text is not a duration, so that the loader can give a precise hint.
    enum ParseFailure: Error, Equatable {
        case notANumber
        case zero
        case tooLarge
        case missingUnit
        case unknownUnit(String)
    }

    static func parse(_ text: String) -> Result<PolicyDuration, ParseFailure> {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        let unitText = String(text.dropFirst(digits.count))
        guard !digits.isEmpty else { return .failure(.notANumber) }
        guard let unit = Unit(rawValue: unitText) else {
            return .failure(unitText.isEmpty ? .missingUnit : .unknownUnit(unitText))
        }
        guard let count = Int(digits), count <= maximumCount else { return .failure(.tooLarge) }
        guard count > 0 else { return .failure(.zero) }
        return .success(PolicyDuration(count, unit))
    }
}
