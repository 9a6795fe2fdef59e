import BSON

/// How a retention sweep cuts everything past its cut-off into writes of at most
/// `bound` documents without reading the documents: windows of the date field,
/// each counted before it is written.
///
/// A window is `filter` and `field >= start, field < end` (the first one open below,
/// the last open above, so nothing written since the earliest date was probed is left
/// out). The rule's filter stays in every write: a document touched since it was
/// counted (no longer past its period, already anonymized) no longer matches and is
/// left alone. The widths are interpolated from the dates' span and the count of the
/// last window; a window counted above `bound` is narrowed and counted again, and a
/// single second holding more than `bound` goes to `split` (`writeById`).
/// Window bounds are whole seconds: on MongoDB that changes nothing but the windows'
/// sizes; the test server compares dates to the second.
///
/// With everything within `bound` (`matched <= bound`), one write of the filter, no
/// probe and no count. Stores share this walk and differ in how they probe, count and
/// split (`DataStore.forEachWriteWindow`).
public enum DateWindows {
    /// `earliest` is the smallest date matching the filter (nil: none, or not a date);
    /// `count` counts a filter; `split` writes one over-full second in bounded
    /// pieces; `body` writes the filters it is handed.
    public static func walk(
        filter: BSONDocument, field: String, before cutoff: BSONDatetime, matched: Int, bound: Int,
        earliest: () async throws -> BSONDatetime?,
        count: (BSONDocument) async throws -> Int,
        split: (BSONDocument) async throws -> Void,
        _ body: ([BSONDocument]) async throws -> Void
    ) async throws {
        let bound = max(bound, 1)
        if matched <= bound {
            try await body([filter])
            return
        }
        guard let earliestDate = try await earliest()?.millisecondsSinceEpoch else {
            // Nothing past the cut-off any more, or values this walk cannot order.
            try await split(filter)
            return
        }
        // Whole seconds: the test server compares dates to the second (docs/test-server.md).
        let lowest = floorToSecond(earliestDate)
        // Aim below the bound: the dates are seldom spread evenly.
        let target = max(bound * 3 / 4, 1)
        // Dates are any 64-bit number of milliseconds: no arithmetic here may overflow.
        let highest = max(cutoff.millisecondsSinceEpoch, lowest == .max ? .max : lowest + 1)
        let span = highest.subtractingReportingOverflow(lowest)
        var start: Int64? = nil
        var width = span.overflow ? Int64.max / 4 : scaled(span.partialValue, target, matched)
        while true {
            let from = start ?? lowest
            let end = from.addingReportingOverflow(width)
            let last = end.overflow || end.partialValue >= highest
            let window = narrowed(filter, field: field, from: start.map(BSONDatetime.init(millisecondsSinceEpoch:)),
                                  before: last ? nil : BSONDatetime(millisecondsSinceEpoch: end.partialValue))
            let counted = try await count(window)
            if counted > bound {
                if width > second {
                    width = scaled(width, target, counted)
                    continue
                }
                try await split(window)
            } else if counted > 0 {
                try await body([window])
            }
            if last { return }
            start = end.partialValue
            // The next width from this window's density, at most four times wider.
            width = min(scaled(width, 4, 1), counted == 0 ? .max : scaled(width, target, counted))
        }
    }

    /// `filter` and the date field at or after `start` and before `end`.
    static func narrowed(_ filter: BSONDocument, field: String, from start: BSONDatetime?, before end: BSONDatetime?) -> BSONDocument {
        var range = BSONDocument()
        if let start { range["$gte"] = .datetime(start) }
        if let end { range["$lt"] = .datetime(end) }
        return range.isEmpty ? filter : RuleStatement.allOf([filter, [field: .document(range)]])
    }

    /// Writes the documents of one over-full second (`window`) a batch of `_id`s at
    /// a time: the first `batchSize` still matching, read afresh each time (no cursor
    /// stays open across the writes; on the test server, a cursor read while its
    /// documents were written missed one), each write `window` and those ids. Stops when
    /// none match or a read brings only ids it wrote before (a write that left its
    /// documents matching).
    public static func writeById(
        _ window: BSONDocument, batchSize: Int,
        ids: (BSONDocument, Int) async throws -> [BSON], idFilters: ([BSON]) -> [BSONDocument],
        _ body: ([BSONDocument]) async throws -> Void
    ) async throws {
        var previous = Set<BSON>()
        while true {
            let batch = try await ids(window, max(batchSize, 1))
            guard !batch.isEmpty, !Set(batch).isSubset(of: previous) else { return }
            try await body(idFilters(batch).map { RuleStatement.allOf([window, $0]) })
            previous = Set(batch)
        }
    }

    static let second: Int64 = 1_000

    static func floorToSecond(_ milliseconds: Int64) -> Int64 {
        let remainder = ((milliseconds % second) + second) % second
        return milliseconds >= Int64.min + remainder ? milliseconds - remainder : .min
    }

    /// `width` times `numerator` over `denominator` in whole seconds, at least one,
    /// without overflow.
    static func scaled(_ width: Int64, _ numerator: Int, _ denominator: Int) -> Int64 {
        let value = Double(width) * Double(numerator) / Double(max(denominator, 1))
        return value >= Double(Int64.max / 4) ? Int64.max / 4 : max(second, floorToSecond(Int64(value)))
    }
}
