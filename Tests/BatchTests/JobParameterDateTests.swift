import Foundation
import Testing

@testable import Batch

@Suite("JobParameterDate")
struct JobParameterDateTests {
    @Test(
        "canonical forms parse and print back unchanged",
        arguments: [
            "2026-01-31", "2024-02-29", "2000-02-29", "0001-01-01", "9999-12-31",
            "2026-01-31T10:15:30", "2026-01-31T00:00:00", "2026-01-31T10:15:30.5", "2026-01-31T10:15:30.123456789",
            "2026-01-31T10:15:30Z", "2026-01-31T10:15:30.123Z", "2026-01-31T10:15:30.000001Z",
            "2026-01-31T10:15:30.123456789Z", "9999-12-31T23:59:59.999999999Z",
        ]
    )
    func canonicalRoundTrip(text: String) throws {
        let date = try JobParameterDate(parsing: text)
        #expect(date.description == text)
        #expect(JobParameterDate(text) == date)
    }

    @Test("kinds follow the text's shape")
    func kinds() throws {
        #expect(try JobParameterDate(parsing: "2026-01-31").kind == .localDate)
        #expect(try JobParameterDate(parsing: "2026-01-31T10:15").kind == .localDateTime)
        #expect(try JobParameterDate(parsing: "2026-01-31T10:15:30Z").kind == .instant)
        #expect(try JobParameterDate(parsing: "2026-01-31T10:15:30+01:00").kind == .instant)
    }

    @Test(
        "other spellings normalize to one canonical text",
        arguments: [
            ("2026-01-31T10:15", "2026-01-31T10:15:00"),
            ("2026-01-31T10:15:30.500", "2026-01-31T10:15:30.5"),
            ("2026-01-31T10:15:30.1Z", "2026-01-31T10:15:30.100Z"),
            ("2026-01-31T10:15:30.1234Z", "2026-01-31T10:15:30.123400Z"),
            ("2026-01-31T10:15:30.000Z", "2026-01-31T10:15:30Z"),
            ("2026-01-31T12:15:30+02:00", "2026-01-31T10:15:30Z"),
            ("2026-01-31T04:45:30-05:30", "2026-01-31T10:15:30Z"),
            ("2026-01-31T10:15:30+00:00", "2026-01-31T10:15:30Z"),
            ("2026-01-31T10:15Z", "2026-01-31T10:15:00Z"),
            ("2026-01-01T01:00:00+02:00", "2025-12-31T23:00:00Z"),
            ("2024-03-01T00:30:00+01:00", "2024-02-29T23:30:00Z"),
            ("2025-12-31T23:30:00-01:00", "2026-01-01T00:30:00Z"),
        ]
    )
    func normalization(input: String, canonical: String) throws {
        #expect(try JobParameterDate(parsing: input).description == canonical)
    }

    @Test(
        "invalid dates are rejected with the reason",
        arguments: [
            ("2026-02-30", "day 30 does not exist in 2026-02, which has 28 days"),
            ("2025-02-29", "day 29 does not exist in 2025-02, which has 28 days"),
            ("1900-02-29", "day 29 does not exist in 1900-02, which has 28 days"),
            ("2026-04-31", "day 31 does not exist in 2026-04, which has 30 days"),
            ("2026-01-00", "day 0 does not exist in 2026-01, which has 31 days"),
            ("2026-13-01", "month 13 does not exist (01-12)"),
            ("2026-00-10", "month 0 does not exist (01-12)"),
            ("0000-01-01", "year 0 is outside 0001-9999"),
            ("2026-01-31T24:00:00", "hour 24 does not exist (00-23)"),
            ("2026-01-31T10:60", "minute 60 does not exist (00-59)"),
            ("2026-01-31T10:15:60", "second 60 does not exist (00-59)"),
            ("2026-01-31 10:15:30", "date and time must be joined by \"T\", not a space"),
            ("2026-01-31T10:15:30+25:00", "offset must be between -18:00 and +18:00"),
            ("2026-01-31T10:15:30+0200", "an offset must be written ±HH:MM, e.g. +02:00"),
            ("2026-01-31T10:15:30.Z", "a fraction of a second needs 1 to 9 digits"),
            ("2026-01-31T10:15:30.1234567890", "a fraction of a second needs 1 to 9 digits"),
            ("2026-01-31T10:15:30ZZ", "unexpected text after the offset"),
            ("2026-01-31T10:15:30 UTC", "unexpected text after the time; an instant ends in Z or an offset like +02:00"),
            ("0001-01-01T00:00:00+01:00", "in UTC it falls outside the years 0001-9999"),
            ("2026-01-31T1:15", "the time after the date must be THH:MM[:SS[.fraction]] (write a date as YYYY-MM-DD, "
                + "a date-time as YYYY-MM-DDTHH:MM:SS, an instant as YYYY-MM-DDTHH:MM:SSZ)"),
        ]
    )
    func invalid(text: String, reason: String) {
        let error = #expect(throws: JobParametersError.self) { try JobParameterDate(parsing: text) }
        #expect(error?.code == .badValue)
        #expect(error?.argument == text)
        #expect(error?.message == "\"\(text)\" is not a valid date: \(reason); write e.g. 2026-01-31 or 2026-01-31T10:15:30Z")
        #expect(JobParameterDate(text) == nil)
    }

    @Test(
        "garbage is rejected as not starting with YYYY-MM-DD",
        arguments: ["", "tomorrow", "2026-1-31", "26-01-31", "2026/01/31", "20260131", "２０２６-01-31", "2026-01-3", "-2026-01-31"]
    )
    func garbage(text: String) {
        let error = #expect(throws: JobParametersError.self) { try JobParameterDate(parsing: text) }
        #expect(error?.message.contains("it does not start with YYYY-MM-DD") == true)
    }

    @Test("trailing junk after a calendar date is rejected")
    func trailingJunk() {
        #expect(JobParameterDate("2026-01-31x") == nil)
        #expect(JobParameterDate("2026-01-310") == nil)
    }

    @Test("field initializers validate")
    func fieldInitializers() {
        #expect(JobParameterDate(year: 2026, month: 1, day: 31)?.description == "2026-01-31")
        #expect(JobParameterDate(year: 2026, month: 2, day: 29) == nil)
        #expect(JobParameterDate(year: 10000, month: 1, day: 1) == nil)
        #expect(JobParameterDate(.localDateTime, year: 2026, month: 1, day: 31, hour: 10, minute: 15)?.description
            == "2026-01-31T10:15:00")
        #expect(JobParameterDate(.instant, year: 2026, month: 1, day: 31, hour: 10, minute: 15, second: 30,
                                 nanosecond: 5_000_000)?.description == "2026-01-31T10:15:30.005Z")
        #expect(JobParameterDate(.instant, year: 2026, month: 1, day: 31, hour: 24, minute: 0) == nil)
        #expect(JobParameterDate(.instant, year: 2026, month: 1, day: 31, hour: 1, minute: 0, nanosecond: 1_000_000_000) == nil)
        #expect(JobParameterDate(.localDate, year: 2026, month: 1, day: 31, hour: 1, minute: 0) == nil)
        #expect(JobParameterDate(.localDate, year: 2026, month: 1, day: 31, hour: 0, minute: 0)?.kind == .localDate)
    }

    @Test("Foundation Date conversion keeps milliseconds")
    func foundationDate() throws {
        #expect(JobParameterDate(Date(timeIntervalSince1970: 0))?.description == "1970-01-01T00:00:00Z")
        #expect(JobParameterDate(Date(timeIntervalSince1970: -1.5))?.description == "1969-12-31T23:59:58.500Z")
        #expect(JobParameterDate(Date(timeIntervalSince1970: 1_769_854_530.123))?.description == "2026-01-31T10:15:30.123Z")
        #expect(JobParameterDate(Date(timeIntervalSince1970: 1e15)) == nil)

        let instant = try JobParameterDate(parsing: "2026-01-31T10:15:30.250Z")
        let date = instant.date(in: TimeZone(secondsFromGMT: 3600)!)
        #expect(date.timeIntervalSince1970 == 1_769_854_530.25)
        #expect(JobParameterDate(date) == instant)

        let local = try JobParameterDate(parsing: "2026-01-31T10:15:30")
        #expect(local.date(in: TimeZone(secondsFromGMT: 0)!).timeIntervalSince1970 == 1_769_854_530)
        #expect(local.date(in: TimeZone(secondsFromGMT: 3600)!).timeIntervalSince1970 == 1_769_854_530 - 3600)
        let day = try JobParameterDate(parsing: "1970-01-02")
        #expect(day.date(in: TimeZone(secondsFromGMT: -7200)!).timeIntervalSince1970 == 86_400 + 7200)
    }

    @Test("Codable is the canonical string")
    func codable() throws {
        let dates = try ["2026-01-31", "2026-01-31T10:15:30.5", "2026-01-31T10:15:30Z"].map(JobParameterDate.init(parsing:))
        let data = try JSONEncoder().encode(dates)
        #expect(String(decoding: data, as: UTF8.self) == #"["2026-01-31","2026-01-31T10:15:30.5","2026-01-31T10:15:30Z"]"#)
        #expect(try JSONDecoder().decode([JobParameterDate].self, from: data) == dates)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([JobParameterDate].self, from: Data(#"["2026-02-30"]"#.utf8))
        }
    }

    @Test("the same instant spelled with different offsets is equal")
    func offsetEquality() throws {
        let a = try JobParameterDate(parsing: "2026-01-31T12:15:30+02:00")
        let b = try JobParameterDate(parsing: "2026-01-31T10:15:30Z")
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(try JobParameterDate(parsing: "2026-01-31T10:15:30") != b)
    }
}
