import ArgumentParser
import Logging

/// How Lethe logs: the format and the least level written, for the commands that log
/// (those that erase, take in or sweep). `Lethe.main` bootstraps logging once with them.
struct LoggingOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Log lines as text, or as one JSON object per line (default: $LETHE_LOG_FORMAT, else text).", valueName: "text|json"))
    var logFormat: LetheLogHandler.Format = Environment.value("LETHE_LOG_FORMAT", default: .text)

    @Option(name: .long, help: ArgumentHelp("Least level logged: trace, debug, info, notice, warning, error or critical (default: $LETHE_LOG_LEVEL, else info).", valueName: "level"))
    var logLevel: Logger.Level = Environment.value("LETHE_LOG_LEVEL", default: .info)

    func validate() throws {
        try Environment.check("LETHE_LOG_FORMAT", as: LetheLogHandler.Format.self, flag: "--log-format")
        try Environment.check("LETHE_LOG_LEVEL", as: Logger.Level.self, flag: "--log-level")
    }

    /// Makes every logger of the process write as these options say. Once per process.
    func bootstrap() {
        Self.bootstrap(format: logFormat, level: logLevel)
    }

    /// For commands without the options: the environment's format and level, else text at info.
    static func bootstrapFromEnvironment() {
        bootstrap(format: Environment.value("LETHE_LOG_FORMAT", default: .text), level: Environment.value("LETHE_LOG_LEVEL", default: .info))
    }

    private static func bootstrap(format: LetheLogHandler.Format, level: Logger.Level) {
        LetheLogHandler.messageFormat.withLock { $0 = format }
        LoggingSystem.bootstrap { label in LetheLogHandler(label: label, format: format, level: level) }
    }
}

/// A command that takes `LoggingOptions`.
protocol LoggingCommand {
    var logging: LoggingOptions { get }
}
