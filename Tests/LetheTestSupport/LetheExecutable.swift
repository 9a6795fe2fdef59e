import Foundation

/// Runs the built `lethe` executable, as a person would, and captures what it prints.
public enum LetheExecutable {
    public struct Result: Sendable {
        public let exitCode: Int32
        public let stdout: String
        public let stderr: String
        public var output: String { stdout + stderr }
    }

    /// The `lethe` binary beside the test bundle (.build/<config>/lethe).
    public static let url: URL = {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("lethe")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            let candidate = bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("lethe")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return URL(fileURLWithPath: ".build/debug/lethe")
    }()

    /// A running `lethe`, its output going to files.
    public final class Running: @unchecked Sendable {
        public let process: Process
        let stdoutURL: URL
        let stderrURL: URL

        init(process: Process, stdoutURL: URL, stderrURL: URL) {
            self.process = process
            self.stdoutURL = stdoutURL
            self.stderrURL = stderrURL
        }

        public func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

        /// Waits for the process to end, at most `timeout`; kills it if it does not.
        public func wait(timeout: Duration = .seconds(120)) async -> Result {
            let deadline = ContinuousClock.now + timeout
            while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            return result()
        }

        /// What it printed and how it ended (after it ended).
        func result() -> Result {
            Result(
                exitCode: process.terminationStatus,
                stdout: (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "",
                stderr: (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? ""
            )
        }

        public var stderrSoFar: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }
    }

    /// Starts `lethe` and returns at once.
    public static func start(_ arguments: [String], environment: [String: String] = [:], stdin: String? = nil) throws -> Running {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value.isEmpty ? nil : value }
        process.environment = env
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-run-\(UUID().uuidString)")
        let out = base.appendingPathExtension("out")
        let err = base.appendingPathExtension("err")
        try Data().write(to: out)
        try Data().write(to: err)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        if let stdin {
            let input = base.appendingPathExtension("in")
            try Data(stdin.utf8).write(to: input)
            process.standardInput = try FileHandle(forReadingFrom: input)
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        try process.run()
        return Running(process: process, stdoutURL: out, stderrURL: err)
    }

    /// Runs `lethe` with `arguments` to its end; `environment` entries are added to
    /// (or, with an empty value, removed from) the current environment. Output goes
    /// through files, so a chatty child can never fill a pipe and stall.
    public static func run(
        _ arguments: [String], environment: [String: String] = [:], stdin: String? = nil
    ) throws -> Result {
        let running = try start(arguments, environment: environment, stdin: stdin)
        running.process.waitUntilExit()
        return running.result()
    }

}
