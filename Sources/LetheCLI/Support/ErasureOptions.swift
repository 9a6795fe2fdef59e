import ArgumentParser
import LetheCore

/// How erasures write: the size of each write and the guard rail on a request's size.
struct ErasureOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Most documents one write targets; larger sets go in batches (default: $LETHE_BATCH_SIZE, else 5000).", valueName: "n"))
    var batchSize: Int = Environment.value("LETHE_BATCH_SIZE", default: 5_000)

    @Option(name: .long, help: ArgumentHelp("Guard rail: requests that would change more documents wait for `lethe approve` (default: $LETHE_MAX_DOCUMENTS, else the policies' maxDocumentsPerRequest, else 10000).", valueName: "n"))
    var maxDocuments: Int?

    func validate() throws {
        try Environment.check("LETHE_BATCH_SIZE", as: Int.self, flag: "--batch-size")
        try Environment.check("LETHE_MAX_DOCUMENTS", as: Int.self, flag: "--max-documents")
        guard batchSize > 0 else { throw ValidationError("--batch-size must be at least 1") }
        if let maxDocuments = documentLimit, maxDocuments < 0 { throw ValidationError("--max-documents cannot be negative") }
    }

    var engineOptions: ErasureEngine.Options {
        ErasureEngine.Options(batchSize: batchSize, maxDocumentsPerRequest: documentLimit)
    }

    /// `--max-documents`, else `LETHE_MAX_DOCUMENTS`.
    var documentLimit: Int? {
        maxDocuments ?? Environment.value("LETHE_MAX_DOCUMENTS")
    }
}
