import Foundation
import LetheCore

/// A rule's progress as one line of text: `label [#######.........] 1200/5000 24%`.
/// Pure, so it is tested without a terminal; `ProgressDisplay` draws it.
enum ProgressBar {
    /// Characters between the brackets. Default 24.
    static let defaultWidth = 24

    static func render(label: String, done: Int, total: Int, width: Int = defaultWidth) -> String {
        let fraction = total > 0 ? min(max(Double(done) / Double(total), 0), 1) : 1
        let filled = Int((fraction * Double(width)).rounded(.down))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        return "\(label) [\(bar)] \(done)/\(total) \(Int((fraction * 100).rounded(.down)))%"
    }

    /// The label of a sweep rule, as the finished line names it.
    static func label(_ rule: SweepReport.Rule) -> String {
        "  \(rule.policy) retention #\(rule.ruleIndex + 1) \(rule.namespace)"
    }

    /// What redraws `line` in place on a terminal: back to the start of the line,
    /// erase it, write the text (no newline, so that the next redraw replaces it).
    static func redraw(_ line: String) -> String { "\r\u{1B}[2K" + line }

    /// What erases the bar before a plain line is printed.
    static let erase = "\r\u{1B}[2K"
}

/// Draws progress bars on standard error when it is a terminal, and nothing otherwise
/// (a log file or a pipe gets only the plain lines, with no escape codes).
final class ProgressDisplay: @unchecked Sendable {
    // @unchecked: the engine calls back from one task at a time; the lock keeps the
    // drawn state consistent whatever the caller.
    private let lock = NSLock()
    private let enabled: Bool
    private var shown: String?

    /// `enabled` defaults to whether standard error is a terminal (and not `TERM=dumb`).
    init(enabled: Bool = isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb") {
        self.enabled = enabled
    }

    func show(_ progress: SweepProgress) {
        guard enabled else { return }
        let line = ProgressBar.render(label: ProgressBar.label(progress.rule), done: progress.done, total: progress.total)
        lock.withLock {
            guard line != shown else { return }
            shown = line
            FileHandle.standardError.write(Data(ProgressBar.redraw(line).utf8))
        }
    }

    /// Erases the bar, if one is drawn, so that the next plain line starts clean.
    func clear() {
        guard enabled else { return }
        lock.withLock {
            guard shown != nil else { return }
            shown = nil
            FileHandle.standardError.write(Data(ProgressBar.erase.utf8))
        }
    }
}
