import BSON
import Foundation

/// Reads an event's `time` as exact milliseconds since 1970, from every form producers
/// send it in:
///
/// - an ISO-8601 / RFC 3339 date-time with a time zone: `2024-05-01T12:00:00.123Z`,
///   `2024-05-01T14:00:00+02:00` (fractions beyond milliseconds are cut off);
/// - Extended JSON: `{"$date": "2024-05-01T12:00:00Z"}`,
///   `{"$date": {"$numberLong": "1714564800000"}}`, or `{"$date": 1714564800000}`;
/// - a BSON date (what an App Services trigger stores in the inbox).
///
/// Parsed by hand, not with a date formatter, so that the same text gives the same
/// milliseconds on every platform: the dedupe key of an App Services event depends on it.
enum EventTime {
    static func milliseconds(from value: BSON) -> Int64? {
        switch value {
        case .datetime(let datetime):
            return datetime.millisecondsSinceEpoch
        case .string(let text):
            return milliseconds(iso: text)
        case .document(let document):
            guard document.count == 1, let wrapped = document["$date"] else { return nil }
            switch wrapped {
            case .string(let text):
                return milliseconds(iso: text)
            case .document(let long):
                guard long.count == 1, let digits = long["$numberLong"]?.stringValue else { return nil }
                return Int64(digits)
            case .int32(let value):
                return Int64(value)
            case .int64(let value):
                return value
            default:
                return nil
            }
        default:
            return nil
        }
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM|±HHMM)`; `t`, `z` and a space for `T`
    /// are accepted as RFC 3339 allows. A time without a time zone is refused.
    static func milliseconds(iso text: String) -> Int64? {
        var scanner = Scanner(Array(text.utf8))
        guard let year = scanner.digits(4), scanner.take("-"),
              let month = scanner.digits(2), scanner.take("-"),
              let day = scanner.digits(2),
              scanner.take("T") || scanner.take("t") || scanner.take(" "),
              let hour = scanner.digits(2), scanner.take(":"),
              let minute = scanner.digits(2), scanner.take(":"),
              let second = scanner.digits(2)
        else { return nil }
        var millisecond: Int64 = 0
        if scanner.take(".") {
            var count = 0
            while let digit = scanner.digits(1) {
                if count < 3 { millisecond = millisecond * 10 + digit }
                count += 1
            }
            guard count > 0 else { return nil }
            for _ in count..<max(count, 3) { millisecond *= 10 }
        }
        var offsetMinutes: Int64 = 0
        if scanner.take("Z") || scanner.take("z") {
            offsetMinutes = 0
        } else {
            let sign: Int64
            if scanner.take("+") { sign = 1 } else if scanner.take("-") { sign = -1 } else { return nil }
            guard let offsetHours = scanner.digits(2) else { return nil }
            _ = scanner.take(":")
            guard let offsetMins = scanner.digits(2), offsetHours <= 23, offsetMins <= 59 else { return nil }
            offsetMinutes = sign * (offsetHours * 60 + offsetMins)
        }
        guard scanner.atEnd,
              (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
              hour <= 23, minute <= 59, second <= 59
        else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offsetMinutes * 60
        return seconds * 1_000 + millisecond
    }

    static func date(milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds) / 1_000)
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    private static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { index == bytes.count }

        mutating func take(_ character: Unicode.Scalar) -> Bool {
            guard index < bytes.count, bytes[index] == UInt8(ascii: character) else { return false }
            index += 1
            return true
        }

        mutating func digits(_ count: Int) -> Int64? {
            guard bytes.count - index >= count else { return nil }
            var value: Int64 = 0
            for byte in bytes[index..<(index + count)] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            index += count
            return value
        }
    }
}
