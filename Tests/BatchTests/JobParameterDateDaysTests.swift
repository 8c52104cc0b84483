import Batch
import Testing

@Suite("Day arithmetic on date parameters")
struct JobParameterDateDaysTests {
    func date(_ text: String) throws -> JobParameterDate { try JobParameterDate(parsing: text) }

    @Test func addingDaysCrossesMonthsYearsAndLeapDays() throws {
        #expect(try date("2026-02-28").adding(days: 1) == date("2026-03-01"))
        #expect(try date("2024-02-28").adding(days: 1) == date("2024-02-29"))
        #expect(try date("2025-12-31").adding(days: 1) == date("2026-01-01"))
        #expect(try date("2026-03-01").adding(days: -1) == date("2026-02-28"))
        #expect(try date("2026-01-31").adding(days: 0) == date("2026-01-31"))
        #expect(try date("2000-01-01").adding(days: 366) == date("2001-01-01"))
        // The kind and the time of day are kept.
        #expect(try date("2026-01-31T10:15:30.5").adding(days: 1) == date("2026-02-01T10:15:30.5"))
        #expect(try date("2026-12-31T23:59:59Z").adding(days: 1) == date("2027-01-01T23:59:59Z"))
        // Outside 0001-9999: nil, never a wrapped or invalid date.
        #expect(try date("9999-12-31").adding(days: 1) == nil)
        #expect(try date("0001-01-01").adding(days: -1) == nil)
    }

    @Test func daysBetweenCountCalendarDays() throws {
        #expect(try date("2026-01-01").days(to: date("2026-12-31")) == 364)
        #expect(try date("2024-01-01").days(to: date("2025-01-01")) == 366)
        #expect(try date("2026-03-01").days(to: date("2026-02-28")) == -1)
        // Times of day do not count: the same day is 0, the next day is 1 even a second later.
        #expect(try date("2026-01-31T23:59:59").days(to: date("2026-02-01T00:00:01")) == 1)
        #expect(try date("2026-01-31T00:00:00Z").days(to: date("2026-01-31")) == 0)
        #expect(try date("1970-01-01").daysSinceEpoch == 0)
        #expect(try date("1969-12-31").daysSinceEpoch == -1)
        #expect(JobParameterDate(daysSinceEpoch: 20_484) == (try date("2026-01-31")))
        #expect(JobParameterDate(daysSinceEpoch: 3_000_000) == nil)
    }

    @Test func aRangeOfDatesIncludesBothEnds() throws {
        let february = try date("2024-02-01").dates(through: date("2024-02-29"))
        #expect(february.count == 29)
        #expect(february.first == (try date("2024-02-01")))
        #expect(february.last == (try date("2024-02-29")))
        #expect(february.allSatisfy { $0.kind == .localDate })
        #expect(Array(try date("2026-12-30T08:00:00Z").dates(through: date("2027-01-02"))).map(\.description)
            == ["2026-12-30", "2026-12-31", "2027-01-01", "2027-01-02"])
        #expect(try date("2026-01-02").dates(through: date("2026-01-01")).isEmpty)
        #expect(try date("2026-01-01").dates(through: date("2026-01-01")).count == 1)
        // The whole calendar, without building it.
        #expect(try date("0001-01-01").dates(through: date("9999-12-31")).count == 3_652_059)
        #expect(try date("2026-01-31T10:15:30Z").calendarDate == date("2026-01-31"))
    }
}
