import Foundation

/// The three inline SVG charts of the HTML form. Plain SVG: no script, no external
/// reference; a `<title>` and `<desc>` for screen readers, a `<title>` on every bar for
/// its exact figure, and a legend drawn in the chart so it prints with it. Colours are
/// the Okabe–Ito palette (told apart with colour-blindness and, by lightness, in grey).
struct ReportCharts {
    let report: ComplianceReport

    static let outcomeColors: [ReportOutcome: String] = [
        .completed: "#009E73", .open: "#56B4E9", .awaitingApproval: "#CC79A7",
        .held: "#E69F00", .failed: "#D55E00", .refused: "#555555",
    ]
    /// Bottom to top.
    static let stackOrder: [ReportOutcome] = [.completed, .open, .awaitingApproval, .held, .failed, .refused]
    static let actions: [(label: String, color: String, value: @Sendable (NamespaceDocuments) -> Int)] = [
        ("deleted", "#D55E00", { $0.deleted }),
        ("anonymized", "#0072B2", { $0.anonymized }),
        ("pulled from", "#CC79A7", { $0.pulled }),
        ("retained", "#E69F00", { $0.retained }),
    ]
    static let withinColor = "#009E73"
    static let lateColor = "#D55E00"

    private let width = 760.0
    private let left = 56.0
    private let right = 16.0
    private let top = 44.0

    // MARK: (a) Requests per day

    func requestsPerDay() -> String {
        let days = report.days
        let height = 320.0
        let bottom = height - 52
        let plotWidth = width - left - right
        let totals = days.map { day in Self.stackOrder.reduce(0) { $0 + day.counts[$1] } }
        let all = totals.reduce(0, +)
        let axis = Axis(maximum: Double(totals.max() ?? 0), integers: true)
        let description = "\(all) request(s) and refusal(s) over \(days.count) day(s); the busiest day had \(totals.max() ?? 0)."
        var svg = open(id: "chart-days", height: height, title: "Requests received per day (UTC), by outcome", description: description)
        svg += legend(Self.stackOrder.map { (label: $0.label, color: Self.outcomeColors[$0]!, dashed: false) })
        svg += verticalAxis(axis, bottom: bottom, plotWidth: plotWidth, title: "Requests")
        guard !days.isEmpty else {
            return svg + message("The period has no days.", y: (top + bottom) / 2) + "</svg>"
        }

        let band = plotWidth / Double(days.count)
        let barWidth = max(band * 0.7, 0.5)
        let crossesYear = days.first?.day.prefix(4) != days.last?.day.prefix(4)
        let labelEvery = max(1, Int((Double(days.count) / 10).rounded(.up)))
        for (index, day) in days.enumerated() {
            let x = left + Double(index) * band + (band - barWidth) / 2
            var base = 0
            for outcome in Self.stackOrder where day.counts[outcome] > 0 {
                let count = day.counts[outcome]
                let y0 = bottom - axis.scale(Double(base), to: bottom - top)
                let y1 = bottom - axis.scale(Double(base + count), to: bottom - top)
                svg += "<rect x=\"\(f(x))\" y=\"\(f(y1))\" width=\"\(f(barWidth))\" height=\"\(f(y0 - y1))\" fill=\"\(Self.outcomeColors[outcome]!)\" stroke=\"#fff\" stroke-width=\"0.5\">"
                svg += "<title>\(day.day): \(count) \(outcome.label)</title></rect>\n"
                base += count
            }
            if index % labelEvery == 0 {
                let label = crossesYear ? day.day : String(day.day.dropFirst(5))
                svg += "<text x=\"\(f(left + (Double(index) + 0.5) * band))\" y=\"\(f(bottom + 16))\" text-anchor=\"middle\" font-size=\"10\">\(label)</text>\n"
            }
        }
        svg += "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(height - 10))\" text-anchor=\"middle\" font-size=\"12\">Day received (UTC)</text>\n"
        if all == 0 { svg += message("No request or refusal in the period.", y: (top + bottom) / 2) }
        return svg + "</svg>"
    }

    // MARK: (b) Time to completion against the deadline

    /// Bars on a logarithmic time axis with ticks at durations people use (1 min, 1 h,
    /// 1 d, 30 d): completions take minutes and deadlines a month, so on a linear axis
    /// every bar would be a hairline under the deadline.
    func completionAgainstDeadline() -> String {
        let lines = report.requests.filter { $0.timeToComplete != nil }
        let height = 320.0
        let bottom = height - 52
        let plotWidth = width - left - right
        let allowed = lines.map { line in line.dueAt.map { $0.timeIntervalSince(line.receivedAt) } }
        let seconds = lines.map { Double($0.timeToComplete!.seconds) }
        let axis = TimeAxis(values: seconds + allowed.compactMap { $0 })
        let late = lines.filter(\.overdue).count
        let description = lines.isEmpty
            ? "No request received in the period was completed."
            : "\(lines.count) completed request(s), \(late) after the deadline. Median \(report.completion.median.map(ReportText.humane) ?? "-"), "
                + "maximum \(report.completion.max.map(ReportText.humane) ?? "-"). Logarithmic time scale."
        var svg = open(id: "chart-completion", height: height, title: "Time from receipt to completion per request, against its deadline", description: description)
        svg += legend([
            (label: "completed within deadline", color: Self.withinColor, dashed: false),
            (label: "completed after deadline", color: Self.lateColor, dashed: false),
            (label: "deadline", color: "#000000", dashed: true),
        ])
        for tick in axis.ticks {
            let y = bottom - axis.scale(tick.seconds, to: bottom - top)
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(y))\" stroke=\"#ccc\" stroke-width=\"0.5\"/>"
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\" font-size=\"10\">\(tick.label)</text>\n"
        }
        svg += "<line x1=\"\(f(left))\" y1=\"\(f(bottom))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(bottom))\" stroke=\"#000\"/>\n"
        let middle = (top + bottom) / 2
        svg += "<text x=\"12\" y=\"\(f(middle))\" transform=\"rotate(-90 12 \(f(middle)))\" text-anchor=\"middle\" font-size=\"12\">Time (log scale)</text>\n"
        guard !lines.isEmpty else {
            return svg + message("No request received in the period was completed.", y: (top + bottom) / 2) + "</svg>"
        }

        let band = plotWidth / Double(lines.count)
        let barWidth = max(band * 0.7, 0.5)
        var deadlinePath = ""
        var labelled = Set<Int>()
        var labels = ""
        for (index, line) in lines.enumerated() {
            let x = left + Double(index) * band
            let barHeight = max(axis.scale(seconds[index], to: bottom - top), 1)  // every request stays visible
            let time = line.timeToComplete!
            svg += "<rect x=\"\(f(x + (band - barWidth) / 2))\" y=\"\(f(bottom - barHeight))\" width=\"\(f(barWidth))\" height=\"\(f(barHeight))\" fill=\"\(line.overdue ? Self.lateColor : Self.withinColor)\">"
            svg += "<title>\(ReportText.html(line.id)): \(ReportText.humane(time)) (\(ReportText.hours(time)) h)"
            if let limit = allowed[index] { svg += " of \(ReportText.humane(ElapsedTime(seconds: Int(limit.rounded())))) allowed" }
            svg += "</title></rect>\n"
            if band >= 34 {
                svg += "<text x=\"\(f(x + band / 2))\" y=\"\(f(bottom - barHeight - 4))\" text-anchor=\"middle\" font-size=\"9\">\(ReportText.humane(time))</text>\n"
            }
            if let limit = allowed[index] {
                let y = bottom - axis.scale(limit, to: bottom - top)
                deadlinePath += "M\(f(x)) \(f(y))H\(f(x + band))"
                let key = Int(limit.rounded())
                if labelled.count < 3, labelled.insert(key).inserted {
                    let text = "deadline " + ReportText.humane(ElapsedTime(seconds: key))
                    labels += "<text x=\"\(f(min(x + 2, left + plotWidth - 110)))\" y=\"\(f(y - 5))\" font-size=\"11\">\(text)</text>\n"
                }
            }
        }
        if !deadlinePath.isEmpty {
            svg += "<path d=\"\(deadlinePath)\" fill=\"none\" stroke=\"#000\" stroke-width=\"1.5\" stroke-dasharray=\"6 3\"/>\n" + labels
        }
        let first = ReportText.minute(lines.first!.receivedAt).prefix(10)
        let last = ReportText.minute(lines.last!.receivedAt).prefix(10)
        svg += "<text x=\"\(f(left))\" y=\"\(f(bottom + 16))\" font-size=\"10\">\(first)</text>\n"
        svg += "<text x=\"\(f(left + plotWidth))\" y=\"\(f(bottom + 16))\" text-anchor=\"end\" font-size=\"10\">\(last)</text>\n"
        svg += "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(height - 10))\" text-anchor=\"middle\" font-size=\"12\">Completed requests, in the order received (\(lines.count))</text>\n"
        return svg + "</svg>"
    }

    // MARK: (c) Documents per collection

    func documentsPerCollection() -> String {
        let namespaces = report.documents.namespaces
        let rowHeight = 28.0
        let labelChars = 36
        let labelWidth = min(280, max(90, Double(namespaces.map { min($0.namespace.count, labelChars) }.max() ?? 0) * 7.2 + 20))
        let plotLeft = labelWidth
        let plotWidth = width - plotLeft - right - 40
        let bottom = top + max(1, Double(namespaces.count)) * rowHeight
        let height = bottom + 44
        let axis = Axis(maximum: Double(namespaces.map(\.total).max() ?? 0), integers: true)
        let description = "\(namespaces.count) collection(s); " + Self.actions.map { action in
            "\(namespaces.reduce(0) { $0 + action.value($1) }) \(action.label)"
        }.joined(separator: ", ") + "."
        var svg = open(id: "chart-documents", height: height, title: "Documents per collection, by action", description: description)
        svg += legend(Self.actions.map { (label: $0.label, color: $0.color, dashed: false) })
        guard !namespaces.isEmpty else {
            return svg + message("No receipt was finished in the period.", y: top + rowHeight / 2 + 4) + "</svg>"
        }

        for tick in axis.ticks {
            let x = plotLeft + axis.scale(tick, to: plotWidth)
            svg += "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(bottom))\" stroke=\"#ccc\" stroke-width=\"0.5\"/>"
            svg += "<text x=\"\(f(x))\" y=\"\(f(bottom + 14))\" text-anchor=\"middle\" font-size=\"10\">\(axis.label(tick))</text>\n"
        }
        for (index, namespace) in namespaces.enumerated() {
            let y = top + Double(index) * rowHeight
            let name = namespace.namespace.count > labelChars ? String(namespace.namespace.prefix(labelChars - 1)) + "…" : namespace.namespace
            svg += "<text x=\"\(f(plotLeft - 8))\" y=\"\(f(y + rowHeight / 2 + 4))\" text-anchor=\"end\" font-size=\"11\">"
            svg += "<title>\(ReportText.html(namespace.namespace))</title>\(ReportText.html(name))</text>\n"
            var start = 0
            for action in Self.actions where action.value(namespace) > 0 {
                let count = action.value(namespace)
                let x0 = plotLeft + axis.scale(Double(start), to: plotWidth)
                let x1 = plotLeft + axis.scale(Double(start + count), to: plotWidth)
                svg += "<rect x=\"\(f(x0))\" y=\"\(f(y + 5))\" width=\"\(f(max(x1 - x0, 1)))\" height=\"\(f(rowHeight - 10))\" fill=\"\(action.color)\" stroke=\"#fff\" stroke-width=\"0.5\">"
                svg += "<title>\(ReportText.html(namespace.namespace)): \(count) \(action.label)</title></rect>\n"
                start += count
            }
            svg += "<text x=\"\(f(plotLeft + axis.scale(Double(start), to: plotWidth) + 4))\" y=\"\(f(y + rowHeight / 2 + 4))\" font-size=\"11\">\(namespace.total)</text>\n"
        }
        svg += "<line x1=\"\(f(plotLeft))\" y1=\"\(f(top))\" x2=\"\(f(plotLeft))\" y2=\"\(f(bottom))\" stroke=\"#000\"/>\n"
        svg += "<text x=\"\(f(plotLeft + plotWidth / 2))\" y=\"\(f(height - 8))\" text-anchor=\"middle\" font-size=\"12\">Documents</text>\n"
        return svg + "</svg>"
    }

    // MARK: Building blocks

    private func open(id: String, height: Double, title: String, description: String) -> String {
        "<svg class=\"chart\" viewBox=\"0 0 \(f(width)) \(f(height))\" role=\"img\" aria-label=\"\(ReportText.html(title))\" "
            + "aria-describedby=\"\(id)-desc\" font-family=\"inherit\">\n"
            + "<title id=\"\(id)-title\">\(ReportText.html(title))</title>\n"
            + "<desc id=\"\(id)-desc\">\(ReportText.html(description))</desc>\n"
    }

    private func legend(_ items: [(label: String, color: String, dashed: Bool)]) -> String {
        var x = left
        var svg = "<g class=\"legend\" font-size=\"11\">"
        for item in items {
            if item.dashed {
                svg += "<line x1=\"\(f(x))\" y1=\"14\" x2=\"\(f(x + 16))\" y2=\"14\" stroke=\"\(item.color)\" stroke-width=\"1.5\" stroke-dasharray=\"6 3\"/>"
            } else {
                svg += "<rect x=\"\(f(x))\" y=\"8\" width=\"12\" height=\"12\" fill=\"\(item.color)\"/>"
            }
            svg += "<text x=\"\(f(x + 18))\" y=\"18\">\(ReportText.html(item.label))</text>"
            x += 18 + Double(item.label.count) * 6.2 + 16
        }
        return svg + "</g>\n"
    }

    private func verticalAxis(_ axis: Axis, bottom: Double, plotWidth: Double, title: String) -> String {
        var svg = ""
        for tick in axis.ticks {
            let y = bottom - axis.scale(tick, to: bottom - top)
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(y))\" stroke=\"#ccc\" stroke-width=\"0.5\"/>"
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\" font-size=\"10\">\(axis.label(tick))</text>\n"
        }
        svg += "<line x1=\"\(f(left))\" y1=\"\(f(bottom))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(bottom))\" stroke=\"#000\"/>\n"
        let middle = (top + bottom) / 2
        svg += "<text x=\"14\" y=\"\(f(middle))\" transform=\"rotate(-90 14 \(f(middle)))\" text-anchor=\"middle\" font-size=\"12\">\(title)</text>\n"
        return svg
    }

    private func message(_ text: String, y: Double) -> String {
        "<text x=\"\(f(width / 2))\" y=\"\(f(y))\" text-anchor=\"middle\" font-size=\"13\" fill=\"#333\">\(ReportText.html(text))</text>\n"
    }

    private func f(_ value: Double) -> String { String(format: "%.1f", value) }
}

/// A linear axis from 0 with "nice" steps (1, 2 or 5 times a power of ten).
struct Axis {
    let maximum: Double
    let step: Double

    init(maximum value: Double, integers: Bool, ticks: Int = 5) {
        guard value > 0 else {
            maximum = 1
            step = integers ? 1 : 0.2
            return
        }
        let raw = value / Double(ticks)
        let magnitude = pow(10, floor(log10(raw)))
        let residual = raw / magnitude
        var step = (residual <= 1 ? 1 : residual <= 2 ? 2 : residual <= 5 ? 5 : 10) * magnitude
        if integers { step = max(1, step.rounded(.up)) }
        self.step = step
        self.maximum = (value / step).rounded(.up) * step
    }

    var ticks: [Double] {
        let count = Int((maximum / step).rounded())
        return (0...count).map { Double($0) * step }
    }

    func scale(_ value: Double, to length: Double) -> Double { value / maximum * length }

    func label(_ tick: Double) -> String {
        guard step < 1 else { return String(Int(tick.rounded())) }
        let decimals = Int(-floor(log10(step)))
        return String(format: "%.\(decimals)f", tick)
    }
}

/// A logarithmic time axis whose ticks are durations people use, from the longest tick
/// below the shortest value to the shortest tick at or above the longest.
struct TimeAxis {
    static let ladder: [(seconds: Double, label: String)] = [
        (1, "1 s"), (10, "10 s"), (60, "1 min"), (600, "10 min"), (3_600, "1 h"), (6 * 3_600, "6 h"),
        (86_400, "1 d"), (7 * 86_400, "7 d"), (30 * 86_400, "30 d"), (90 * 86_400, "90 d"), (365 * 86_400, "1 y"),
        (5 * 365 * 86_400, "5 y"),
    ]

    let ticks: [(seconds: Double, label: String)]

    init(values: [Double]) {
        let positive = values.filter { $0 > 0 }
        let low = positive.min() ?? 60
        let high = positive.max() ?? 30 * 86_400
        var first = Self.ladder.lastIndex { $0.seconds < low } ?? 0  // below: the shortest bar has a height
        var last = Self.ladder.firstIndex { $0.seconds >= high } ?? Self.ladder.count - 1
        if first == last { first = max(0, first - 1); last = min(Self.ladder.count - 1, last + 1) }
        ticks = Array(Self.ladder[first...last])
    }

    /// Height of `seconds` above the lowest tick, over `length`; 0 at or below it.
    func scale(_ seconds: Double, to length: Double) -> Double {
        let low = log(ticks.first!.seconds)
        let high = log(ticks.last!.seconds)
        guard seconds > ticks.first!.seconds, high > low else { return 0 }
        return min(1, (log(seconds) - low) / (high - low)) * length
    }
}
