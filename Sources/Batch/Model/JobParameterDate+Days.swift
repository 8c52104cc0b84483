import BatchSupport

/// Day arithmetic on date parameters, for jobs that work a day (or a range of days) at a time:
/// `day=2026-01-31,date` and the next day, the days of a month, the days between two
/// parameters.
///
/// Days are calendar days of the proleptic Gregorian calendar; an instant counts by its date
/// in UTC. Nothing here reads a time zone.
extension JobParameterDate {
    /// The calendar date alone (a ``Kind/localDate``): the date of a local date-time, the UTC
    /// date of an instant, or the value itself.
    public var calendarDate: JobParameterDate {
        kind == .localDate ? self : JobParameterDate(unchecked: .localDate, year, month, day, 0, 0, 0, 0)
    }

    /// Days since 1970-01-01 of the calendar date (negative before it).
    public var daysSinceEpoch: Int64 {
        CivilCalendar.days(year: year, month: month, day: day)
    }

    /// The calendar date `daysSinceEpoch` days after 1970-01-01, or nil outside the years
    /// 0001–9999.
    public init?(daysSinceEpoch: Int64) {
        let (year, month, day) = CivilCalendar.date(fromDays: daysSinceEpoch)
        guard (1...9999).contains(year) else { return nil }
        self.init(unchecked: .localDate, year, month, day, 0, 0, 0, 0)
    }

    /// The same kind of value `days` days later (earlier when negative), with the same time of
    /// day; nil when that falls outside the years 0001–9999.
    ///
    ///     let day = parameters.date("day")!          // 2026-02-28
    ///     day.adding(days: 1)                        // 2026-03-01
    public func adding(days: Int) -> JobParameterDate? {
        let (year, month, day) = CivilCalendar.date(fromDays: daysSinceEpoch + Int64(days))
        guard (1...9999).contains(year) else { return nil }
        return JobParameterDate(unchecked: kind, year, month, day, hour, minute, second, nanosecond)
    }

    /// Calendar days from this value's date to `other`'s: positive when `other` is later, 0 on
    /// the same day, whatever the times of day.
    public func days(to other: JobParameterDate) -> Int {
        Int(other.daysSinceEpoch - daysSinceEpoch)
    }

    /// The calendar dates from this value's date through `last`'s, both included; empty when
    /// `last` is earlier.
    ///
    ///     for day in start.dates(through: end) { ... }   // each a .localDate
    public func dates(through last: JobParameterDate) -> DateRange {
        DateRange(first: daysSinceEpoch, last: last.daysSinceEpoch)
    }

    /// Consecutive calendar dates, both ends included (see ``dates(through:)``).
    public struct DateRange: RandomAccessCollection, Sendable, Hashable {
        private let first: Int64
        private let end: Int64

        init(first: Int64, last: Int64) {
            self.first = first
            self.end = Swift.max(first, last + 1)
        }

        public var startIndex: Int { 0 }
        public var endIndex: Int { Int(end - first) }

        public subscript(position: Int) -> JobParameterDate {
            precondition(indices.contains(position), "date \(position) is outside the range of \(count) dates")
            // Both ends are dates of 0001-9999, so every day between them is one too.
            return JobParameterDate(daysSinceEpoch: first + Int64(position))!
        }
    }
}
