/// What loading policies produced: the policies that have no errors, and every
/// diagnostic of every file, in file order and then line order.
public struct PolicyLoadResult: Sendable, Hashable {
    /// Policies without errors (possibly with warnings), in file order.
    public var policies: [Policy]
    public var diagnostics: [PolicyDiagnostic]

    public init(policies: [Policy] = [], diagnostics: [PolicyDiagnostic] = []) {
        self.policies = policies
        self.diagnostics = diagnostics
    }

    /// Whether any diagnostic is an error. When true, do not act on `policies` as a
    /// set: a refused file might have held rules the others rely on.
    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    public var errors: [PolicyDiagnostic] { diagnostics.filter { $0.severity == .error } }

    public var warnings: [PolicyDiagnostic] { diagnostics.filter { $0.severity == .warning } }

    /// The policy called `name`, if it loaded.
    public func policy(named name: String) -> Policy? { policies.first { $0.name == name } }
}
