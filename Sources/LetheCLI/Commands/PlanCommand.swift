import ArgumentParser
import Foundation
import LetheCore
import LetheService

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Dry run: what erasing a user would do now. Reads only; sends no write.",
        discussion: "Counts are live. The output holds no user id; the ids given are used only to count."
    )

    @OptionGroup var subject: SubjectOptions
    @OptionGroup var output: FormatOptions
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var state: StateOptions
    @OptionGroup var erasure: ErasureOptions
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let policies = try policyOptions.load(hashKeyConfigured: try PolicyOptions.hashKey() != nil)
        try await withRuntime(connection: connection, policies: policies, state: state, erasure: erasure.engineOptions) { runtime in
            let dryRun: DryRun
            do { dryRun = try await runtime.engine.dryRun(subject.subject) } catch let error as EngineError {
                printError("error: \(error)")
                throw LetheExit.invalidInput
            }
            let planned = dryRun.rules
            let total = planned.reduce(0) { $0 + $1.toChange }
            if output.effective == .json {
                print(try Self.json(planned, lookups: dryRun.lookups, total: total, limit: runtime.engine.documentLimit))
            } else {
                for lookup in dryRun.lookups { print("\(lookup.policy) lookup \(lookup.lookup): \(lookup.values) value(s) found") }
                for line in planned { print(Self.text(line)) }
                print("total: \(total) document(s) would change (limit \(runtime.engine.documentLimit)\(total > runtime.engine.documentLimit ? ": the request would wait for `lethe approve`" : ""))")
            }
        }
    }

    static func fields(_ action: RuleAction) -> [String] {
        switch action {
        case .delete, .retain: []
        case .pull: []
        case .anonymize(let a): a.set.keys + a.pseudonymize + a.hash + a.unset
        }
    }

    static func text(_ line: PlannedRule) -> String {
        let s = line.statement
        let head = "\(s.policyName) #\(s.rule.index + 1) \(s.actionName.padding(toLength: 9, withPad: " ", startingAt: 0)) \(s.namespace): \(line.matched) match"
        switch s.rule.action {
        case .delete: return head + ", \(line.toChange) would be deleted"
        case .pull: return head + ", the user would be pulled from \(s.rule.match.joined(separator: ", ")) in \(line.toChange)"
        case .anonymize(let a):
            var changes: [String] = []
            if !a.set.isEmpty { changes.append("set \(a.set.keys.joined(separator: ", "))") }
            if !a.pseudonymize.isEmpty { changes.append("pseudonymize \(a.pseudonymize.joined(separator: ", "))") }
            if !a.hash.isEmpty { changes.append("hash \(a.hash.joined(separator: ", "))") }
            if !a.unset.isEmpty { changes.append("unset \(a.unset.joined(separator: ", "))") }
            return head + ", \(line.toChange) would be anonymized (\(changes.joined(separator: "; ")))"
        case .retain(let r):
            let until = line.retainedUntil.map { ", until \(ISO8601DateFormatter().string(from: $0))" } ?? ""
            return head + ", retained: \(r.reason)\(until)"
        }
    }

    static func json(_ planned: [PlannedRule], lookups: [PlannedLookup] = [], total: Int, limit: Int) throws -> String {
        let rules: [[String: Any]] = planned.map { line in
            var entry: [String: Any] = [
                "policy": line.statement.policyName, "rule": line.statement.rule.index + 1,
                "namespace": line.statement.namespace.description, "action": line.statement.actionName,
                "matched": line.matched, "wouldChange": line.toChange, "fields": fields(line.statement.rule.action),
            ]
            if case .retain(let r) = line.statement.rule.action { entry["retainReason"] = r.reason }
            if let until = line.retainedUntil { entry["retainedUntil"] = ISO8601DateFormatter().string(from: until) }
            return entry
        }
        var object: [String: Any] = ["rules": rules, "total": total, "limit": limit, "needsApproval": total > limit]
        if !lookups.isEmpty {
            object["lookups"] = lookups.map { ["policy": $0.policy, "lookup": $0.lookup, "values": $0.values] as [String: Any] }
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}
