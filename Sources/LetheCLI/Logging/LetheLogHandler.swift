import ArgumentParser
import Foundation
import Logging
import Synchronization

/// Lethe's log lines, on standard error (standard output is for records and summaries):
/// one line per message, as text or as one JSON object. Both carry the timestamp, the
/// level, the logger's label, the message and the metadata (`LogKey`'s keys: request ids,
/// pseudonyms, counts, codes; never personal data).
///
/// text: `2026-12-05T13:07:00.123Z info lethe.serve: worker started lethe.reason=...`
/// json: `{"label":"lethe.serve","level":"info","message":"worker started","timestamp":"...", "lethe.reason":"..."}`
struct LetheLogHandler: LogHandler {
    enum Format: String, CaseIterable, Sendable, ExpressibleByArgument {
        case text, json
    }

    let label: String
    let format: Format
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    private let output: LogOutput

    init(label: String, format: Format, level: Logger.Level, output: LogOutput = .standardError) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.output = output
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        if let error = event.error { merged["error"] = .string("\(error)") }
        let timestamp = Date().formatted(Self.timestampStyle)
        switch format {
        case .json: output.write(Self.json(timestamp: timestamp, level: event.level, label: label, message: "\(event.message)", metadata: merged))
        case .text: output.write(Self.text(timestamp: timestamp, level: event.level, label: label, message: "\(event.message)", metadata: merged))
        }
    }

    /// How `printError` writes messages for people: as the logs are. Set by `LoggingOptions.bootstrap`.
    static let messageFormat = Mutex(Format.text)

    static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    static func text(timestamp: String, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        let fields = metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return ([timestamp, level.rawValue, label + ":", message] + fields).joined(separator: " ")
    }

    /// One JSON object, keys sorted; metadata keys at the top level beside the four fixed
    /// ones (they are prefixed `lethe.`, so they cannot collide).
    static func json(timestamp: String, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var object: [String: Any] = metadata.mapValues(jsonValue)
        object["timestamp"] = timestamp
        object["level"] = level.rawValue
        object["label"] = label
        object["message"] = message
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data(#"{"level":"error","message":"a log line could not be encoded"}"#.utf8)
        return String(decoding: data, as: UTF8.self)
    }

    private static func jsonValue(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let text): return text
        case .stringConvertible(let convertible):
            let text = convertible.description
            if let number = Int(text) { return number }
            if let number = Double(text), number.isFinite { return number }
            return text
        case .array(let values): return values.map(jsonValue)
        case .dictionary(let values): return values.mapValues(jsonValue)
        }
    }
}

/// Where log lines go: whole lines, one writer at a time.
final class LogOutput: Sendable {
    private let handle: Mutex<FileHandle>

    init(_ handle: FileHandle) { self.handle = Mutex(handle) }

    static let standardError = LogOutput(.standardError)

    func write(_ line: String) {
        let data = Data((line + "\n").utf8)
        handle.withLock { $0.write(data) }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
