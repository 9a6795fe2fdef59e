import Foundation

/// How long Lethe keeps the tombstones of erased values (`tombstones:`), which the
/// restore sweep (`lethe sweep --restored`) needs to recognize data a restored backup
/// brought back.
public struct TombstoneSpec: Sendable, Hashable {
    /// When `keep` is not written: 400 days, longer than common snapshot retention
    /// (a year of monthly snapshots and some margin).
    public static let defaultKeep = PolicyDuration(400, .day)

    /// The `keep` as written; nil when absent (see `effectiveKeep`).
    public var keep: PolicyDuration?
    /// Where `tombstones` is written, for messages that compare policies.
    public var location: SourceLocation?

    public init(keep: PolicyDuration? = nil, location: SourceLocation? = nil) {
        self.keep = keep
        self.location = location
    }

    /// `keep`, or `defaultKeep` (400d).
    public var effectiveKeep: PolicyDuration { keep ?? Self.defaultKeep }
}

extension Policy {
    /// The policy's `tombstones.keep`, or the default (400d).
    public var effectiveTombstoneKeep: PolicyDuration { tombstones?.effectiveKeep ?? TombstoneSpec.defaultKeep }
}

/// Tombstones serve every policy at once (one request erases under all of them), so
/// one period applies: the longest. A policy asking for a shorter one is told, with a
/// warning, that its value has no effect.
enum TombstoneKeepAcrossPolicies {
    static func diagnostics(_ policies: [Policy]) -> [PolicyDiagnostic] {
        guard policies.count > 1 else { return [] }
        let now = Date()
        let keeps = policies.map(\.effectiveTombstoneKeep)
        guard let longest = keeps.max(by: { $0.added(to: now) < $1.added(to: now) }),
              let holder = policies.first(where: { $0.effectiveTombstoneKeep == longest }) else { return [] }
        return policies.compactMap { policy in
            guard policy.effectiveTombstoneKeep.added(to: now) < longest.added(to: now) else { return nil }
            let location = policy.tombstones?.location ?? SourceLocation(file: policy.sourceFile, line: 1, column: 1)
            let written = policy.tombstones?.keep.map { "tombstones.keep is \($0)" } ?? "tombstones.keep is the default \(TombstoneSpec.defaultKeep)"
            let source = holder.tombstones?.keep != nil ? "policy \(holder.name)'s tombstones.keep" : "the default for policy \(holder.name)"
            return PolicyDiagnostic(
                severity: .warning, file: location.file, line: location.line, column: location.column, keyPath: "tombstones.keep",
                message: "\(written), but tombstones are kept \(longest) (\(source)): one period serves every policy, the longest",
                expected: "the same tombstones.keep in every policy",
                hint: "write `tombstones: { keep: \(longest) }` here too, or shorten it in the other policy")
        }
    }
}
