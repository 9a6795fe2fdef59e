import ArgumentParser
import LetheCore

/// How large one write of a retention sweep may be (`sweep`, and `serve`'s scheduled sweeps).
struct SweepWriteOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Most documents one write of a retention sweep targets: a window of the date field, counted first (default: $LETHE_SWEEP_BATCH_SIZE, else 100000).", valueName: "n"))
    var sweepBatchSize: Int = Environment.value("LETHE_SWEEP_BATCH_SIZE", default: 100_000)

    func validate() throws {
        try Environment.check("LETHE_SWEEP_BATCH_SIZE", as: Int.self, flag: "--sweep-batch-size")
        guard sweepBatchSize > 0 else { throw ValidationError("--sweep-batch-size must be at least 1") }
    }

    /// `options` with this bound.
    func applied(to options: ErasureEngine.Options) -> ErasureEngine.Options {
        var options = options
        options.sweepBatchSize = sweepBatchSize
        return options
    }
}
