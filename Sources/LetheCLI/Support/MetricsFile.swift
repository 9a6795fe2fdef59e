import Foundation
import LetheService

/// `run --once --metrics-file`: the run's metrics in Prometheus' text format, for node
/// exporter's textfile collector. Written whole or not at all: into a hidden temporary
/// file beside it (which the collector, reading `*.prom`, skips), then renamed over it.
enum MetricsFile {
    static func write(_ pass: PassSummary, state: MongoStateStore, to path: String) async throws {
        let metrics = ServiceMetrics(state: state)
        metrics.record(pass)
        try writeAtomically(await metrics.render(), to: path)
    }

    static func writeAtomically(_ text: String, to path: String) throws {
        let target = URL(fileURLWithPath: path)
        let temporary = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).\(getpid()).tmp")
        do {
            try Data(text.utf8).write(to: temporary)
            guard rename(temporary.path, target.path) == 0 else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path, NSLocalizedDescriptionKey: String(cString: strerror(errno))])
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            printError("error: cannot write the metrics to \(path): \((error as NSError).localizedDescription); check that its directory exists and is writable")
            throw LetheExit.invalidInput
        }
    }
}
