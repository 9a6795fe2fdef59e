/// The order statistics of a report, on whole seconds. docs/reports.md states the method.
public enum ReportStatistics {
    /// The middle value; with an even count, the mean of the two middle values rounded
    /// to the nearest second, halves away from zero. Nil when `values` is empty.
    public static func median(_ values: [Int]) -> Int? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        if sorted.count % 2 == 1 { return sorted[middle] }
        return Int((Double(sorted[middle - 1]) / 2 + Double(sorted[middle]) / 2).rounded(.toNearestOrAwayFromZero))
    }

    /// The nearest-rank percentile: the smallest value with at least `percent`% of the
    /// values at or below it, `sorted[ceil(percent / 100 × n) - 1]`. Always a value that
    /// occurred. Nil when `values` is empty.
    public static func percentile(_ percent: Int, of values: [Int]) -> Int? {
        precondition((1...100).contains(percent), "a percentile is 1 to 100")
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let rank = (percent * sorted.count + 99) / 100  // ceil, in integers
        return sorted[rank - 1]
    }
}
