import ArgumentParser
import LetheCore

/// How erasures write: the size of each write and the guard rail on a request's size.
struct ErasureOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Most documents one write targets; larger sets go in batches.", valueName: "n"))
    var batchSize: Int = 5_000

    @Option(name: .long, help: ArgumentHelp("Guard rail: requests that would change more documents wait for `lethe approve` (default: the policies' maxDocumentsPerRequest, else 10000).", valueName: "n"))
    var maxDocuments: Int?

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be at least 1") }
        if let maxDocuments, maxDocuments < 0 { throw ValidationError("--max-documents cannot be negative") }
    }

    var engineOptions: ErasureEngine.Options {
        ErasureEngine.Options(batchSize: batchSize, maxDocumentsPerRequest: maxDocuments)
    }
}
