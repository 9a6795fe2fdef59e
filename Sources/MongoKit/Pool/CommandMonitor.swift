import NIOConcurrencyHelpers

/// Counts the commands a pool sends, by command name, from libmongoc's command
/// monitoring (APM) callbacks. Heartbeats and handshakes are not commands here.
public final class CommandMonitor: Sendable {
    public struct Count: Sendable, Hashable {
        public var started = 0
        public var succeeded = 0
        public var failed = 0
    }

    /// A copy of the counters at one moment; subtract two to count a span of work.
    public struct Snapshot: Sendable, Hashable {
        public var byCommand: [String: Count]

        public static let writeCommands: Set<String> = ["insert", "update", "delete", "findAndModify", "bulkWrite"]

        /// Commands started, all names together.
        public var totalStarted: Int { byCommand.values.reduce(0) { $0 + $1.started } }

        /// Write commands started (`insert`, `update`, `delete`, `findAndModify`).
        public var writesStarted: Int {
            byCommand.filter { Self.writeCommands.contains($0.key) }.values.reduce(0) { $0 + $1.started }
        }

        public func started(_ name: String) -> Int { byCommand[name]?.started ?? 0 }

        /// What happened between `earlier` and this snapshot.
        public func subtracting(_ earlier: Snapshot) -> Snapshot {
            var result = byCommand
            for (name, count) in earlier.byCommand {
                var current = result[name] ?? Count()
                current.started -= count.started
                current.succeeded -= count.succeeded
                current.failed -= count.failed
                result[name] = current
            }
            return Snapshot(byCommand: result.filter { $0.value != Count() })
        }
    }

    private let counts = NIOLockedValueBox<[String: Count]>([:])

    public init() {}

    public func snapshot() -> Snapshot {
        Snapshot(byCommand: counts.withLockedValue { $0 })
    }

    enum Event { case started, succeeded, failed }

    func record(_ event: Event, command: String) {
        counts.withLockedValue { counts in
            switch event {
            case .started: counts[command, default: Count()].started += 1
            case .succeeded: counts[command, default: Count()].succeeded += 1
            case .failed: counts[command, default: Count()].failed += 1
            }
        }
    }
}
