import ArgumentParser
import Foundation
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
