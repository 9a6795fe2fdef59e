/// The HTML form of a report: one self-contained page (inline CSS and SVG, no script,
/// nothing fetched), readable on a screen and printed. Every text from outside this
/// module is escaped.
struct ReportHTML {
    let report: ComplianceReport

    func render() -> String {
        let charts = ReportCharts(report: report)
        let start = ReportText.minute(report.period.start)
        let end = ReportText.minute(report.period.end)
        var out = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="generator" content="Lethe \(e(report.letheVersion))">
        <title>Lethe compliance report, \(start) to \(end)</title>
        <style>\(Self.css)</style>
        </head>
        <body>
        <header>
        <h1>Lethe compliance report</h1>
        <p class="period">Period <strong>\(start)</strong> to <strong>\(end)</strong> (end excluded).
        Generated \(ReportText.minute(report.generatedAt)) by Lethe \(e(report.letheVersion)); schema <code>\(e(report.schema))</code>.</p>
        <p class="privacy">\(e(ReportNarrative.privacyStatement))</p>
        </header>

        """
        out += section("summary", "Summary", intro: nil) {
            "<ul class=\"key\">\n" + ReportNarrative.keyFigures(report).map { "<li>\(e($0))</li>\n" }.joined() + "</ul>\n"
        }
        out += section("requests", "1. Requests received", intro: ReportNarrative.requestsIntro) {
            requests(chart: charts.requestsPerDay())
        }
        out += section("deadlines", "2. Time to completion and deadlines", intro: ReportNarrative.completionIntro) {
            deadlines(chart: charts.completionAgainstDeadline())
        }
        out += section("documents", "3. Documents by collection", intro: ReportNarrative.documentsIntro(report.documents)) {
            documents(chart: charts.documentsPerCollection())
        }
        out += section("sweeps", "4. Sweeps", intro: ReportNarrative.sweepsIntro) { sweeps() }
        out += section("policies", "5. Policies in force", intro: ReportNarrative.policiesIntro) { policies() }
        out += section("all-requests", "6. Every request received", intro: nil) { allRequests() }
        out += "</body>\n</html>\n"
        return out
    }

    // MARK: Sections

    private func requests(chart: String) -> String {
        var out = table(["Outcome", "Requests"], numeric: [1],
                        ReportOutcome.allCases.map { [swatch(ReportCharts.outcomeColors[$0]!) + e($0.label), "\(report.outcomes[$0])"] }
                            + [["<strong>received (requests)</strong>", "<strong>\(report.outcomes.received)</strong>"],
                               ["failed attempts (retried included)", "\(report.outcomes.failedAttempts) (\(report.outcomes.failedVerifications) by verification)"]])
        out += figure(chart, caption: "Requests received per day (UTC), stacked by their outcome; refused events in grey. Hover a bar for its figure.")
        if !report.refusals.isEmpty {
            out += "<h3>Refused at intake</h3>\n"
            out += table(["Channel", "Reason code", "Events"], numeric: [2],
                         report.refusals.map { [e($0.channel.rawValue), code($0.reasonCode), "\($0.count)"] })
        }
        if !report.notes.isEmpty {
            out += "<h3>Why requests failed, are held or wait</h3>\n"
            out += table(["Request", "State", "Note"], numeric: [], report.notes.map { [code($0.requestId), e($0.state.rawValue), e($0.note)] })
        }
        return out
    }

    private func deadlines(chart: String) -> String {
        let completion = report.completion
        var out = ""
        if completion.count == 0 {
            out += "<p>No request received in the period was completed.</p>\n"
        } else {
            out += table(["Completed requests", "Median", "95th percentile", "Maximum", "Within deadline", "Late", "No deadline"],
                         numeric: [0, 1, 2, 3, 4, 5, 6], [[
                "\(completion.count)", time(completion.median), time(completion.p95), time(completion.max),
                "\(completion.withinDeadline)", completion.late > 0 ? "<strong class=\"bad\">\(completion.late)</strong>" : "0",
                "\(completion.withoutDeadline)",
            ]])
            out += "<h3>By deadline</h3>\n"
            out += table(["Deadline (receipt to due date)", "Requests", "Median", "95th percentile", "Maximum", "Late"], numeric: [1, 2, 3, 4, 5],
                         completion.byDeadline.map {
                [$0.allowed.map(ReportText.humane) ?? "none", "\($0.count)", time($0.median), time($0.p95), time($0.max), "\($0.late)"]
            })
        }
        out += figure(chart, caption: "Each bar is one completed request, in the order received: its time from receipt to completion. "
            + "The dashed line is its deadline; a bar above it was completed late. "
            + "The time scale is logarithmic (each gridline a duration: 1 min, 1 h, 1 d, 30 d), so minutes and a month's deadline fit on one chart.")
        out += "<h3>Overdue, completed late, and due within 7 days</h3>\n"
        if report.deadlines.isEmpty {
            out += "<p>No request is overdue, was completed late, or is due within 7 days.</p>\n"
        } else {
            out += table(["Request", "Status", "State", "Received", "Due", "Late by / due in", "Note"], numeric: [], report.deadlines.map { entry in
                [
                    code(entry.requestId) + (entry.receivedInPeriod ? "" : "<br><small>received before the period</small>"),
                    entry.status == .dueSoon ? e(entry.status.label) : "<strong class=\"bad\">\(e(entry.status.label))</strong>",
                    e(entry.state.rawValue), ReportText.minute(entry.receivedAt), ReportText.minute(entry.dueAt),
                    entry.lateBy.map { "late by " + ReportText.humane($0) } ?? entry.dueIn.map { "due in " + ReportText.humane($0) } ?? "",
                    entry.note.map(e) ?? "",
                ]
            })
        }
        return out
    }

    private func documents(chart: String) -> String {
        let documents = report.documents
        var out = figure(chart, caption: "Documents per collection, stacked by what was done to them. Hover a bar for its figure.")
        if !documents.namespaces.isEmpty {
            out += table(["Collection", "Deleted", "Anonymized", "Pulled from", "Retained", "Requests", "Verification failures"],
                         numeric: [1, 2, 3, 4, 5, 6], documents.namespaces.map {
                [code($0.namespace), "\($0.deleted)", "\($0.anonymized)", "\($0.pulled)", "\($0.retained)", "\($0.requests)",
                 $0.verificationFailures > 0 ? "<strong class=\"bad\">\($0.verificationFailures)</strong>" : "0"]
            })
        }
        out += "<h3>What was kept, and why</h3>\n"
        if documents.retained.isEmpty {
            out += "<p>No document was retained.</p>\n"
        } else {
            out += table(["Collection", "Policy", "Reason (as the policy states it)", "Documents", "Requests", "Kept until (latest)"],
                         numeric: [3, 4], documents.retained.map {
                [code($0.namespace), e($0.policy), e($0.reason), "\($0.documents)", "\($0.requests)", $0.latestUntil.map(ReportText.minute) ?? "no end date"]
            })
        }
        return out
    }

    private func sweeps() -> String {
        guard !report.sweeps.isEmpty else { return "<p>No sweep ran in the period.</p>\n" }
        return table(["Started", "Finished", "Kind", "Mode", "Documents", "Per collection"], numeric: [4], report.sweeps.map { sweep in
            [
                ReportText.minute(sweep.startedAt), ReportText.minute(sweep.finishedAt), e(sweep.kind.rawValue),
                sweep.dryRun ? "dry run (nothing changed)" : "applied", "\(sweep.total)",
                sweep.perNamespace.keys.sorted().map { "\(code($0)): \(sweep.perNamespace[$0]!)" }.joined(separator: "<br>"),
            ]
        })
    }

    private func policies() -> String {
        guard !report.policies.isEmpty else { return "<p>No policy history was given and no request names a policy.</p>\n" }
        return table(["Policy", "Fingerprint", "First seen", "Replaced", "Changed in period", "Requests"], numeric: [5], report.policies.map {
            [
                e($0.name), code($0.fingerprint), $0.firstSeen.map(ReportText.minute) ?? "<em>not in the history</em>",
                $0.replacedAt.map(ReportText.minute) ?? "in force", $0.changedInPeriod ? "<strong>yes</strong>" : "no", "\($0.requests)",
            ]
        })
    }

    private func allRequests() -> String {
        guard !report.requests.isEmpty else { return "<p>None.</p>\n" }
        return table(["Request", "Received", "Due", "Finished", "State", "Source", "Time to complete", "Overdue", "Policies"],
                     numeric: [6], report.requests.map { line in
            [
                code(line.id), ReportText.minute(line.receivedAt), line.dueAt.map(ReportText.minute) ?? "",
                line.finishedAt.map(ReportText.minute) ?? "", e(line.state.rawValue), e(line.source.rawValue),
                line.timeToComplete.map { "\(ReportText.humane($0)) <small>(\(ReportText.hours($0)) h)</small>" } ?? "",
                line.overdue ? "<strong class=\"bad\">yes</strong>" : "no",
                line.policies.map { "\(e($0.name)) <code>\(e($0.fingerprint))</code>" }.joined(separator: "<br>"),
            ]
        })
    }

    // MARK: Building blocks

    private func section(_ id: String, _ title: String, intro: String?, _ body: () -> String) -> String {
        "<section id=\"\(id)\" aria-labelledby=\"\(id)-h\">\n<h2 id=\"\(id)-h\">\(e(title))</h2>\n"
            + (intro.map { "<p class=\"intro\">\(e($0))</p>\n" } ?? "") + body() + "</section>\n\n"
    }

    /// Cells are HTML already (escaped by the caller).
    private func table(_ header: [String], numeric: Set<Int>, _ rows: [[String]]) -> String {
        func cell(_ tag: String, _ index: Int, _ content: String) -> String {
            "<\(tag)\(numeric.contains(index) ? " class=\"num\"" : "")>\(content)</\(tag)>"
        }
        var out = "<table>\n<thead><tr>" + header.enumerated().map { cell("th", $0, e($1)) }.joined() + "</tr></thead>\n<tbody>\n"
        for row in rows { out += "<tr>" + row.enumerated().map { cell("td", $0, $1) }.joined() + "</tr>\n" }
        return out + "</tbody>\n</table>\n"
    }

    private func figure(_ svg: String, caption: String) -> String {
        "<figure>\n\(svg)\n<figcaption>\(e(caption))</figcaption>\n</figure>\n"
    }

    private func swatch(_ color: String) -> String { "<span class=\"swatch\" style=\"background:\(color)\"></span>" }

    private func e(_ text: String) -> String { ReportText.html(text) }

    private func code(_ text: String) -> String { "<code>\(e(text))</code>" }

    private func time(_ value: ElapsedTime?) -> String {
        value.map { "\(ReportText.humane($0))<br><small>\(ReportText.hours($0)) h, \($0.seconds) s</small>" } ?? "—"
    }

    static let css = """

    :root { color-scheme: light; }
    * { -webkit-print-color-adjust: exact; print-color-adjust: exact; box-sizing: border-box; }
    body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
      color: #111; background: #fff; max-width: 64rem; margin: 0 auto; padding: 1.5rem; line-height: 1.45; }
    h1 { font-size: 1.7rem; margin: 0 0 .3rem; }
    h2 { font-size: 1.3rem; border-bottom: 2px solid #111; padding-bottom: .2rem; margin: 2.5rem 0 .6rem; }
    h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
    .period { margin: 0 0 .8rem; }
    .privacy { border-left: 4px solid #0072B2; background: #eef5fb; padding: .5rem .8rem; }
    .intro { color: #333; }
    .key li { margin: .25rem 0; }
    table { border-collapse: collapse; width: 100%; margin: .6rem 0 1.2rem; font-size: .88rem; }
    th, td { border: 1px solid #aaa; padding: .3rem .5rem; text-align: left; vertical-align: top; }
    th { background: #eee; }
    .num { text-align: right; font-variant-numeric: tabular-nums; }
    code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85em; overflow-wrap: anywhere; }
    small { color: #444; }
    .bad { color: #a33a00; }
    .swatch { display: inline-block; width: .8em; height: .8em; margin-right: .4em; border: 1px solid #666; vertical-align: -.05em; }
    figure { margin: 1rem 0 1.4rem; }
    figcaption { font-size: .85rem; color: #333; margin-top: .3rem; }
    svg.chart { display: block; width: 100%; height: auto; max-height: 28rem; }
    svg.chart text { fill: #111; }
    @page { size: A4; margin: 14mm; }
    @media print {
      body { max-width: none; padding: 0; font-size: 10pt; }
      section { break-before: page; page-break-before: always; }
      section#summary { break-before: auto; page-break-before: auto; }
      figure, svg, tr, .privacy { break-inside: avoid; page-break-inside: avoid; }
      h2, h3 { break-after: avoid; page-break-after: avoid; }
      thead { display: table-header-group; }
      svg.chart { max-height: 120mm; }
      .privacy { background: none; }
    }

    """
}
