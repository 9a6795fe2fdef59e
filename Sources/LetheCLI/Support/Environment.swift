import ArgumentParser
import Foundation

/// The environment variables that stand for flags: every flag a deployment sets can come
/// from `LETHE_<FLAG>` (README, "Environment"). A flag given on the command line wins.
///
/// The variable's value becomes the flag's default (so `--help` shows the value in
/// force); `check` refuses an invalid one with a message naming the variable (exit 64).
enum Environment {
    static var variables: [String: String] { ProcessInfo.processInfo.environment }

    /// The text of `name`; nil when unset or empty.
    static func text(_ name: String) -> String? {
        guard let text = variables[name], !text.isEmpty else { return nil }
        return text
    }

    /// `name` parsed as the flag's values are, else `fallback` (also when invalid: `check` says so).
    static func value<T: ExpressibleByArgument>(_ name: String, default fallback: T) -> T {
        text(name).flatMap(T.init(argument:)) ?? fallback
    }

    /// `name` parsed, or nil when unset or invalid (`check` says so).
    static func value<T: ExpressibleByArgument>(_ name: String) -> T? {
        text(name).flatMap(T.init(argument:))
    }

    /// The values of a repeatable flag: `separator`-separated (`;` by default, since cron
    /// expressions and names hold no `;`), each trimmed, empty ones dropped.
    static func list(_ name: String, separator: Character = ";") -> [String] {
        guard let text = text(name) else { return [] }
        return text.split(separator: separator).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Refuses a value of `name` that `flag` would not take.
    static func check<T: ExpressibleByArgument>(_ name: String, as type: T.Type, flag: String) throws {
        guard let text = text(name), T(argument: text) == nil else { return }
        throw ValidationError("the environment variable \(name) is '\(text)', which is not a value for \(flag)"
                              + "\(expected(T.self)); correct it or unset it")
    }

    private static func expected<T: ExpressibleByArgument>(_ type: T.Type) -> String {
        if !T.allValueStrings.isEmpty { return " (one of \(T.allValueStrings.joined(separator: ", ")))" }
        return switch type {
        case is Int.Type, is Int32.Type: " (expected a whole number)"
        case is Double.Type: " (expected a number)"
        default: ""
        }
    }
}
