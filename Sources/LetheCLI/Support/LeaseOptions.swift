import ArgumentParser

/// How long a worker's lease on its requests lasts. A heartbeat renews it every third
/// of that while the worker runs; a worker that dies frees its requests when it ends.
struct LeaseOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Seconds a lease lasts unless renewed (a running worker renews it every third of that; default: $LETHE_LEASE_SECONDS, else 60).", valueName: "seconds"))
    var leaseSeconds: Int = Environment.value("LETHE_LEASE_SECONDS", default: 60)

    func validate() throws {
        try Environment.check("LETHE_LEASE_SECONDS", as: Int.self, flag: "--lease-seconds")
        guard (3...86_400).contains(leaseSeconds) else { throw ValidationError("--lease-seconds must be between 3 and 86400") }
    }

    var duration: Duration { .seconds(leaseSeconds) }
}
