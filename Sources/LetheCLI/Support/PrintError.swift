import Foundation
import Logging

/// Writes a message for a person to standard error: as it is, or with `--log-format json`
/// as a log line of its own (label `lethe`), so that standard error stays one JSON object
/// per line for a log collector.
func printError(_ text: String) {
    switch LetheLogHandler.messageFormat.withLock({ $0 }) {
    case .text: LogOutput.standardError.write(text)
    case .json:
        let level: Logger.Level = text.contains("warning:") ? .warning : (text.contains("error:") ? .error : .info)
        LogOutput.standardError.write(LetheLogHandler.json(timestamp: Date().formatted(LetheLogHandler.timestampStyle),
                                                           level: level, label: "lethe", message: text, metadata: [:]))
    }
}
