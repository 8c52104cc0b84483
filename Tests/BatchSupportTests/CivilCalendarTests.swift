import BatchSupport
import Testing

@Suite("CivilCalendar")
struct CivilCalendarTests {
    @Test("day numbers round-trip across the years 0001 to 9999")
    func roundTrip() {
        let first = CivilCalendar.days(year: 1, month: 1, day: 1)
        let last = CivilCalendar.days(year: 9999, month: 12, day: 31)
        #expect(CivilCalendar.days(year: 1970, month: 1, day: 1) == 0)
        #expect(CivilCalendar.days(year: 2000, month: 3, day: 1) == 11_017)
        for day in stride(from: first, through: last, by: 997) {
            let (y, m, d) = CivilCalendar.date(fromDays: day)
            #expect((1...12).contains(m))
            #expect((1...CivilCalendar.daysInMonth(year: y, month: m)).contains(d))
            #expect(CivilCalendar.days(year: y, month: m, day: d) == day)
        }
        #expect(CivilCalendar.date(fromDays: first) == (1, 1, 1))
        #expect(CivilCalendar.date(fromDays: last) == (9999, 12, 31))
    }

    @Test("days before 1970 are negative and the day before the epoch is 1969-12-31")
    func beforeTheEpoch() {
        #expect(CivilCalendar.days(year: 1969, month: 12, day: 31) == -1)
        #expect(CivilCalendar.date(fromDays: -1) == (1969, 12, 31))
        #expect(CivilCalendar.date(fromDays: -719_162) == (1, 1, 1))
    }

    @Test("leap years follow the Gregorian rule")
    func leapYears() {
        #expect(CivilCalendar.daysInMonth(year: 2024, month: 2) == 29)
        #expect(CivilCalendar.daysInMonth(year: 2026, month: 2) == 28)
        #expect(CivilCalendar.daysInMonth(year: 1900, month: 2) == 28)
        #expect(CivilCalendar.daysInMonth(year: 2000, month: 2) == 29)
        #expect(CivilCalendar.daysInMonth(year: 2026, month: 4) == 30)
        #expect(CivilCalendar.daysInMonth(year: 2026, month: 12) == 31)
        #expect(CivilCalendar.days(year: 2024, month: 3, day: 1) - CivilCalendar.days(year: 2024, month: 2, day: 28) == 2)
    }

    @Test("floor division keeps the remainder non-negative")
    func floorDivision() {
        #expect(CivilCalendar.floorDivide(86_401, 86_400) == (1, 1))
        #expect(CivilCalendar.floorDivide(-1, 86_400) == (-1, 86_399))
        #expect(CivilCalendar.floorDivide(-86_400, 86_400) == (-1, 0))
        #expect(CivilCalendar.floorDivide(0, 1000) == (0, 0))
    }
}
