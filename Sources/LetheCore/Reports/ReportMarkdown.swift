/// The Markdown form of a report: the same sections as the HTML page, as tables.
struct ReportMarkdown {
    let report: ComplianceReport

    func render() -> String {
        var out: [String] = []
        out.append("# Lethe compliance report")
        out.append("")
        out.append("Period **\(ReportText.minute(report.period.start))** to **\(ReportText.minute(report.period.end))** (end excluded). "
            + "Generated \(ReportText.minute(report.generatedAt)) by Lethe \(text(report.letheVersion)); schema `\(report.schema)`.")
        out.append("")
        out.append("> " + ReportNarrative.privacyStatement)
        out.append("")
        out.append("## Summary")
        out.append("")
        out += ReportNarrative.keyFigures(report).map { "- " + text($0) }
        out += requests() + deadlines() + documents() + sweeps() + policies() + days() + allRequests()
        return out.joined(separator: "\n") + "\n"
    }

    // MARK: Sections

    private func requests() -> [String] {
        var out = section("1. Requests received", ReportNarrative.requestsIntro)
        out += table(["Outcome", "Requests"], ReportOutcome.allCases.map { [$0.label, "\(report.outcomes[$0])"] }
            + [["**received (requests)**", "**\(report.outcomes.received)**"],
               ["failed attempts (retried included)", "\(report.outcomes.failedAttempts) (\(report.outcomes.failedVerifications) by verification)"]])
        if !report.refusals.isEmpty {
            out += ["", "Refused at intake, by channel and reason:", ""]
            out += table(["Channel", "Reason code", "Events"], report.refusals.map { [text($0.channel.rawValue), text($0.reasonCode), "\($0.count)"] })
        }
        if !report.notes.isEmpty {
            out += ["", "Why requests failed, are held or wait:", ""]
            out += table(["Request", "State", "Note"], report.notes.map { [code($0.requestId), $0.state.rawValue, text($0.note)] })
        }
        return out
    }

    private func deadlines() -> [String] {
        let completion = report.completion
        var out = section("2. Time to completion and deadlines", ReportNarrative.completionIntro)
        if completion.count == 0 {
            out.append("No request received in the period was completed.")
        } else {
            out += table(["Completed requests", "Median", "95th percentile", "Maximum", "Within deadline", "Late", "No deadline"], [[
                "\(completion.count)", time(completion.median), time(completion.p95), time(completion.max),
                "\(completion.withinDeadline)", "\(completion.late)", "\(completion.withoutDeadline)",
            ]])
            out += ["", "By deadline (time allowed from receipt to due date):", ""]
            out += table(["Deadline", "Requests", "Median", "95th percentile", "Maximum", "Late"], completion.byDeadline.map {
                [$0.allowed.map(ReportText.humane) ?? "none", "\($0.count)", time($0.median), time($0.p95), time($0.max), "\($0.late)"]
            })
        }
        out += ["", "### Overdue, late and due soon", ""]
        if report.deadlines.isEmpty {
            out.append("No request is overdue, was completed late, or is due within 7 days.")
        } else {
            out += table(["Request", "Status", "State", "Received", "Due", "Late by / due in", "Note"], report.deadlines.map { entry in
                [
                    code(entry.requestId) + (entry.receivedInPeriod ? "" : " (earlier period)"),
                    "**\(entry.status.label)**", entry.state.rawValue, ReportText.minute(entry.receivedAt), ReportText.minute(entry.dueAt),
                    entry.lateBy.map { "late by " + ReportText.humane($0) } ?? entry.dueIn.map { "due in " + ReportText.humane($0) } ?? "",
                    entry.note.map(text) ?? "",
                ]
            })
        }
        return out
    }

    private func documents() -> [String] {
        let documents = report.documents
        var out = section("3. Documents by collection", ReportNarrative.documentsIntro(documents))
        if documents.namespaces.isEmpty {
            out.append("No receipt was finished in the period.")
        } else {
            out += table(["Collection", "Deleted", "Anonymized", "Pulled from", "Retained", "Requests", "Verification failures"],
                         documents.namespaces.map {
                [code($0.namespace), "\($0.deleted)", "\($0.anonymized)", "\($0.pulled)", "\($0.retained)", "\($0.requests)", "\($0.verificationFailures)"]
            })
        }
        if !documents.retained.isEmpty {
            out += ["", "### What was kept, and why", ""]
            out += table(["Collection", "Policy", "Reason", "Documents", "Requests", "Kept until (latest)"], documents.retained.map {
                [code($0.namespace), text($0.policy), text($0.reason), "\($0.documents)", "\($0.requests)", $0.latestUntil.map(ReportText.minute) ?? "no end date"]
            })
        }
        return out
    }

    private func sweeps() -> [String] {
        var out = section("4. Sweeps", ReportNarrative.sweepsIntro)
        if report.sweeps.isEmpty { return out + ["No sweep ran in the period."] }
        out += table(["Started", "Finished", "Kind", "Mode", "Documents", "Per collection"], report.sweeps.map { sweep in
            [
                ReportText.minute(sweep.startedAt), ReportText.minute(sweep.finishedAt), text(sweep.kind.rawValue),
                sweep.dryRun ? "dry run (nothing changed)" : "applied", "\(sweep.total)",
                sweep.perNamespace.keys.sorted().map { "\(code($0)): \(sweep.perNamespace[$0]!)" }.joined(separator: ", "),
            ]
        })
        return out
    }

    private func policies() -> [String] {
        var out = section("5. Policies in force", ReportNarrative.policiesIntro)
        if report.policies.isEmpty { return out + ["No policy history was given and no request names a policy."] }
        out += table(["Policy", "Fingerprint", "First seen", "Replaced", "Changed in period", "Requests"], report.policies.map {
            [
                text($0.name), code($0.fingerprint), $0.firstSeen.map(ReportText.minute) ?? "not in the history",
                $0.replacedAt.map(ReportText.minute) ?? "in force", $0.changedInPeriod ? "**yes**" : "no", "\($0.requests)",
            ]
        })
        return out
    }

    private func days() -> [String] {
        var out = section("6. Requests per day (UTC)", "Days without any request or refusal are left out.")
        let busy = report.days.filter { $0.counts.received + $0.counts.refused > 0 }
        if busy.isEmpty { return out + ["No request or refusal in the period."] }
        out += table(["Day"] + ReportOutcome.allCases.map(\.label), busy.map { day in
            [day.day] + ReportOutcome.allCases.map { "\(day.counts[$0])" }
        })
        return out
    }

    private func allRequests() -> [String] {
        var out = section("7. Every request received", "")
        if report.requests.isEmpty { return out + ["None."] }
        out += table(["Request", "Received", "Due", "Finished", "State", "Source", "Time to complete", "Overdue", "Policies"],
                     report.requests.map { line in
            [
                code(line.id), ReportText.minute(line.receivedAt), line.dueAt.map(ReportText.minute) ?? "",
                line.finishedAt.map(ReportText.minute) ?? "", line.state.rawValue, text(line.source.rawValue),
                line.timeToComplete.map { "\(ReportText.humane($0)) (\(ReportText.hours($0)) h)" } ?? "",
                line.overdue ? "**yes**" : "no", text(ReportText.policies(line.policies)),
            ]
        })
        return out
    }

    // MARK: Building blocks

    private func section(_ title: String, _ intro: String) -> [String] {
        ["", "## " + title, ""] + (intro.isEmpty ? [] : [text(intro), ""])
    }

    private func table(_ header: [String], _ rows: [[String]]) -> [String] {
        ["| " + header.joined(separator: " | ") + " |", "|" + header.map { _ in " --- |" }.joined()]
            + rows.map { "| " + $0.joined(separator: " | ") + " |" }
    }

    private func text(_ value: String) -> String { ReportText.markdown(value) }

    /// An id or namespace in a code span, unless it holds a backtick.
    private func code(_ value: String) -> String {
        value.contains("`") || value.contains("|") || value.contains("\n") ? text(value) : "`\(value)`"
    }

    private func time(_ value: ElapsedTime?) -> String {
        value.map { "\(ReportText.humane($0)) (\(ReportText.hours($0)) h, \($0.seconds) s)" } ?? "—"
    }
}
