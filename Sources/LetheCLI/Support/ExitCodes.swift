import ArgumentParser
import Foundation
import Logging
import MongoKit

/// Exit codes, as documented in `lethe --help`.
enum LetheExit {
    static let failed = ExitCode(1)
    static let invalidInput = ExitCode(65)
    static let unavailable = ExitCode(69)
    static let waiting = ExitCode(75)
}

/// Prints an error a person can act on to standard error and picks the exit code.
func report(_ error: any Error) -> ExitCode {
    if let mongo = error as? MongoError {
        printError("error: \(mongo.description)")
        switch mongo.code {
        case .serverSelectionFailed, .connectionFailed, .authenticationFailed: return LetheExit.unavailable
        case .invalidURI: return LetheExit.invalidInput
        default: return LetheExit.failed
        }
    }
    printError("error: \(error)")
    return LetheExit.failed
}

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
