import ArgumentParser
import Foundation
import LetheCore
import LetheService

/// Prints what a pass over the queue did and returns the exit code it deserves: 1 if a
/// request failed; `waitingExit` if some wait (held, needing approval, or in another
/// worker's hands) and none failed.
func summarize(_ summary: QueueWorker.Summary, waitingExit: ExitCode) -> ExitCode {
    let failed = summary.count(.failed)
    let held = summary.count(.held), needsApproval = summary.count(.needsApproval)
    let waiting = held + needsApproval
    print("processed \(summary.processed) request(s): \(summary.count(.done)) done, \(failed) failed, \(waiting) waiting"
          + (waiting > 0 ? " (\(held) held, \(needsApproval) need\(needsApproval == 1 ? "s" : "") approval)" : "")
          + (summary.leasesLost > 0 ? ", \(summary.leasesLost) taken over by other workers" : ""))
    if summary.leasedElsewhere > 0 {
        print("\(summary.leasedElsewhere) request(s) in progress under another worker's lease: that worker finishes them, or, if it is gone, the next run once its lease expires")
    }
    if failed > 0 {
        print("failed requests: `lethe requests --state failed`; retry one with `lethe retry REQUEST_ID`")
        return LetheExit.failed
    }
    if needsApproval > 0 { print("needing approval: `lethe requests --state needs-approval`; run one with `lethe approve REQUEST_ID`") }
    return waiting + summary.leasedElsewhere > 0 ? waitingExit : .success
}

/// Prints a request's outcome and returns the exit code it deserves.
func summarize(_ request: ErasureRequest, stateDatabase: String) -> ExitCode {
    print("request \(request.id): \(request.state.rawValue)")
    for rule in request.rules {
        let counts = rule.counts.effect(of: rule.action)
        let check: String = switch rule.verification {
        case .passed: ", verified"
        case .failed: ", VERIFICATION FAILED (\(rule.remaining ?? 0) left)"
        case .notApplicable, .notRun: ""
        }
        print("  \(rule.policy) #\(rule.ruleIndex + 1) \(rule.action.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(rule.namespace): matched \(rule.matched), \(counts)\(check)")
    }
    if let note = request.note { print("  \(note)") }
    switch request.state {
    case .done:
        print("receipt: `lethe receipt \(request.id)` (stored in \(stateDatabase).receipts)")
        return .success
    case .held, .needsApproval, .received:
        return LetheExit.waiting
    case .failed, .running:
        return LetheExit.failed
    }
}
