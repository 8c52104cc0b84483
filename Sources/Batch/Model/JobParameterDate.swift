import BatchSupport
import Foundation

/// A date job parameter: a calendar date, a local date-time, or an instant.
///
/// The three kinds mirror the date types Spring Batch stores, and each has exactly one text form,
/// its ``description``, which is what goes into `parameter_value` and the job key:
///
/// | ``Kind``            | Java type                 | Canonical text                    |
/// |---------------------|---------------------------|-----------------------------------|
/// | ``Kind/localDate``     | `java.time.LocalDate`     | `2026-01-31`                      |
/// | ``Kind/localDateTime`` | `java.time.LocalDateTime` | `2026-01-31T10:15:30`, `…:30.5`    |
/// | ``Kind/instant``       | `java.util.Date`          | `2026-01-31T10:15:30Z`, `…:30.123Z` |
///
/// An instant may be written with an offset (`2026-01-31T12:15:30+02:00`); it is converted to
/// UTC, so two spellings of the same moment are the same parameter and the same job instance.
/// Local kinds carry no zone: `2026-01-31` means that calendar day wherever the job runs.
/// Years are limited to 0001–9999.
public struct JobParameterDate: Sendable, Hashable, Codable, LosslessStringConvertible {
    /// Which of the three date types a value is.
    public enum Kind: Sendable, Hashable, CaseIterable {
        /// A calendar date without time or zone (`java.time.LocalDate`).
        case localDate
        /// A date and wall-clock time without zone (`java.time.LocalDateTime`).
        case localDateTime
        /// A point in time, kept in UTC (`java.util.Date`, written as an ISO-8601 instant).
        case instant
    }

    /// Which of the three date types this is.
    public let kind: Kind
    /// The year, 1...9999 (in UTC for an instant).
    public let year: Int
    /// The month, 1...12.
    public let month: Int
    /// The day of the month, 1...31, valid for the month and year.
    public let day: Int
    /// The hour, 0...23; 0 for a ``Kind/localDate``.
    public let hour: Int
    /// The minute, 0...59; 0 for a ``Kind/localDate``.
    public let minute: Int
    /// The second, 0...59 (leap seconds are not representable); 0 for a ``Kind/localDate``.
    public let second: Int
    /// The fraction of the second in nanoseconds, 0...999_999_999; 0 for a ``Kind/localDate``.
    public let nanosecond: Int

    /// Creates a calendar date, or returns `nil` if the date does not exist (e.g. February 30).
    public init?(year: Int, month: Int, day: Int) {
        guard Self.validate(year: year, month: month, day: day) == nil else { return nil }
        self.init(unchecked: .localDate, year, month, day, 0, 0, 0, 0)
    }

    /// Creates a local date-time or an instant (in UTC), or returns `nil` if any field is out of
    /// range or the date does not exist.
    ///
    /// - Parameters:
    ///   - kind: ``Kind/localDateTime`` or ``Kind/instant``; ``Kind/localDate`` gives `nil`
    ///     unless the time is midnight, since a calendar date has no time to keep.
    ///   - year: the proleptic Gregorian year (1 to 9999).
    ///   - month: 1 to 12.
    ///   - day: 1 to the month's length in that year.
    ///   - hour: 0 to 23.
    ///   - minute: 0 to 59.
    ///   - second: 0 to 59 (no leap seconds).
    ///   - nanosecond: the fraction of the second, 0 to 999,999,999.
    public init?(
        _ kind: Kind, year: Int, month: Int, day: Int,
        hour: Int, minute: Int, second: Int = 0, nanosecond: Int = 0
    ) {
        guard Self.validate(year: year, month: month, day: day) == nil,
            (0..<24).contains(hour), (0..<60).contains(minute), (0..<60).contains(second),
            (0..<1_000_000_000).contains(nanosecond)
        else { return nil }
        if kind == .localDate, hour != 0 || minute != 0 || second != 0 || nanosecond != 0 {
            return nil
        }
        self.init(unchecked: kind, year, month, day, hour, minute, second, nanosecond)
    }

    /// Creates an instant from a Foundation `Date`, rounded to the millisecond as `java.util.Date` is.
    ///
    /// Returns `nil` for a date outside the years 0001–9999.
    public init?(_ date: Date) {
        let millis = (date.timeIntervalSince1970 * 1000).rounded()
        guard millis.isFinite, abs(millis) < 1e15 else { return nil }
        let totalMillis = Int64(millis)
        let (seconds, milli) = CivilCalendar.floorDivide(totalMillis, 1000)
        self.init(instantAtEpochSecond: seconds, nanosecond: Int(milli) * 1_000_000)
    }

    /// Parses any of the three canonical forms, or returns `nil`. See ``init(parsing:)`` for errors.
    public init?(_ description: String) {
        guard case .success(let value) = Self.parse(description) else { return nil }
        self = value
    }

    /// Parses a date, date-time or instant strictly, telling what is wrong if it cannot.
    ///
    /// Accepted: `YYYY-MM-DD`; `YYYY-MM-DDTHH:MM[:SS[.fraction]]` (up to 9 fraction digits);
    /// either of the date-times followed by `Z` or an offset `±HH:MM` for an instant. Dates that
    /// do not exist (`2026-02-30`), out-of-range fields and anything else are rejected.
    ///
    /// - Parameter text: The text to parse.
    /// - Throws: ``JobParametersError`` with code ``JobParametersError/Code/badValue``.
    public init(parsing text: String) throws(JobParametersError) {
        switch Self.parse(text) {
        case .success(let value):
            self = value
        case .failure(let failure):
            throw JobParametersError(
                code: .badValue, argument: text,
                message: "\"\(text)\" is not a valid date: \(failure.reason); write e.g. 2026-01-31 or 2026-01-31T10:15:30Z"
            )
        }
    }

    /// The canonical text: what is stored, shown and hashed into the job key.
    public var description: String {
        var text = Self.pad(year, 4) + "-" + Self.pad(month, 2) + "-" + Self.pad(day, 2)
        guard kind != .localDate else { return text }
        text += "T" + Self.pad(hour, 2) + ":" + Self.pad(minute, 2) + ":" + Self.pad(second, 2)
        if nanosecond != 0 {
            var digits = Self.pad(nanosecond, 9)
            if kind == .instant {
                // ISO_INSTANT prints fractions in groups of three digits.
                while digits.hasSuffix("000") { digits.removeLast(3) }
            } else {
                // ISO_LOCAL_DATE_TIME prints as many digits as needed.
                while digits.hasSuffix("0") { digits.removeLast() }
            }
            text += "." + digits
        }
        return kind == .instant ? text + "Z" : text
    }

    /// This value as a Foundation `Date`, reading a local date or date-time in `timeZone`.
    ///
    /// An instant ignores `timeZone`. A local time that a daylight-saving change skips or repeats
    /// resolves to one of the nearby instants; precision is limited to what `Date` can hold.
    ///
    /// - Parameter timeZone: The zone in which local kinds are read.
    public func date(in timeZone: TimeZone) -> Date {
        let utcSeconds = Double(epochSecondReadingLocalAsUTC) + Double(nanosecond) / 1e9
        guard kind != .instant else { return Date(timeIntervalSince1970: utcSeconds) }
        let guess = Date(timeIntervalSince1970: utcSeconds)
        let firstOffset = timeZone.secondsFromGMT(for: guess)
        let adjusted = Date(timeIntervalSince1970: utcSeconds - Double(firstOffset))
        let secondOffset = timeZone.secondsFromGMT(for: adjusted)
        return Date(timeIntervalSince1970: utcSeconds - Double(secondOffset))
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        switch Self.parse(text) {
        case .success(let value):
            self = value
        case .failure(let failure):
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "\"\(text)\" is not a valid date: \(failure.reason)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

// MARK: - Parsing

extension JobParameterDate {
    /// Why a text is not a date, phrased to follow "is not a valid date: ".
    struct ParseFailure: Error {
        let reason: String
    }

    /// A value from fields already checked (a real date of 0001-9999, times in range).
    init(
        unchecked kind: Kind, _ year: Int, _ month: Int, _ day: Int,
        _ hour: Int, _ minute: Int, _ second: Int, _ nanosecond: Int
    ) {
        self.kind = kind
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
        self.nanosecond = nanosecond
    }

    private init?(instantAtEpochSecond epochSecond: Int64, nanosecond: Int) {
        let (days, secondOfDay) = CivilCalendar.floorDivide(epochSecond, 86_400)
        let (year, month, day) = CivilCalendar.date(fromDays: days)
        guard (1...9999).contains(year) else { return nil }
        let seconds = Int(secondOfDay)
        self.init(
            unchecked: .instant, year, month, day,
            seconds / 3600, seconds / 60 % 60, seconds % 60, nanosecond)
    }

    /// Seconds since 1970-01-01T00:00:00, reading the fields as UTC whatever the kind.
    var epochSecondReadingLocalAsUTC: Int64 {
        CivilCalendar.days(year: year, month: month, day: day) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
    }

    static func parse(_ text: String) -> Result<JobParameterDate, ParseFailure> {
        var scanner = ByteCursor(Array(text.utf8))
        let shape = "write a date as YYYY-MM-DD, a date-time as YYYY-MM-DDTHH:MM:SS, an instant as YYYY-MM-DDTHH:MM:SSZ"
        guard let year = scanner.digits(4), scanner.skip("-"),
            let month = scanner.digits(2), scanner.skip("-"),
            let day = scanner.digits(2)
        else {
            return .failure(ParseFailure(reason: "it does not start with YYYY-MM-DD (\(shape))"))
        }
        if let problem = validate(year: year, month: month, day: day) {
            return .failure(ParseFailure(reason: problem))
        }
        if scanner.atEnd {
            return .success(JobParameterDate(unchecked: .localDate, year, month, day, 0, 0, 0, 0))
        }
        if scanner.peek == UInt8(ascii: " ") {
            return .failure(ParseFailure(reason: "date and time must be joined by \"T\", not a space"))
        }
        guard scanner.skip("T"), let hour = scanner.digits(2), scanner.skip(":"), let minute = scanner.digits(2) else {
            return .failure(ParseFailure(reason: "the time after the date must be THH:MM[:SS[.fraction]] (\(shape))"))
        }
        var second = 0
        var nanosecond = 0
        if scanner.skip(":") {
            guard let value = scanner.digits(2) else {
                return .failure(ParseFailure(reason: "seconds must be two digits"))
            }
            second = value
            if scanner.skip(".") {
                let fraction = scanner.digitRun()
                guard (1...9).contains(fraction.count) else {
                    return .failure(ParseFailure(reason: "a fraction of a second needs 1 to 9 digits"))
                }
                nanosecond = Int(String(decoding: fraction, as: UTF8.self))! * pow10(9 - fraction.count)
            }
        }
        guard hour < 24 else { return .failure(ParseFailure(reason: "hour \(hour) does not exist (00-23)")) }
        guard minute < 60 else { return .failure(ParseFailure(reason: "minute \(minute) does not exist (00-59)")) }
        guard second < 60 else { return .failure(ParseFailure(reason: "second \(second) does not exist (00-59)")) }
        if scanner.atEnd {
            return .success(JobParameterDate(unchecked: .localDateTime, year, month, day, hour, minute, second, nanosecond))
        }
        var offsetSeconds = 0
        if !scanner.skip("Z") {
            let sign: Int
            if scanner.skip("+") {
                sign = 1
            } else if scanner.skip("-") {
                sign = -1
            } else {
                return .failure(ParseFailure(reason: "unexpected text after the time; an instant ends in Z or an offset like +02:00"))
            }
            guard let offsetHours = scanner.digits(2), scanner.skip(":"), let offsetMinutes = scanner.digits(2) else {
                return .failure(ParseFailure(reason: "an offset must be written ±HH:MM, e.g. +02:00"))
            }
            guard offsetHours <= 18, offsetMinutes < 60, offsetHours * 60 + offsetMinutes <= 18 * 60 else {
                return .failure(ParseFailure(reason: "offset must be between -18:00 and +18:00"))
            }
            offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
        }
        guard scanner.atEnd else {
            return .failure(ParseFailure(reason: "unexpected text after the offset"))
        }
        let local = JobParameterDate(unchecked: .localDateTime, year, month, day, hour, minute, second, nanosecond)
        guard let instant = JobParameterDate(
            instantAtEpochSecond: local.epochSecondReadingLocalAsUTC - Int64(offsetSeconds), nanosecond: nanosecond)
        else {
            return .failure(ParseFailure(reason: "in UTC it falls outside the years 0001-9999"))
        }
        return .success(instant)
    }

    /// Why (year, month, day) is not a real calendar date, or `nil` if it is.
    static func validate(year: Int, month: Int, day: Int) -> String? {
        guard (1...9999).contains(year) else { return "year \(year) is outside 0001-9999" }
        guard (1...12).contains(month) else { return "month \(month) does not exist (01-12)" }
        let length = CivilCalendar.daysInMonth(year: year, month: month)
        guard (1...length).contains(day) else {
            return "day \(day) does not exist in \(pad(year, 4))-\(pad(month, 2)), which has \(length) days"
        }
        return nil
    }

    private static func pow10(_ exponent: Int) -> Int {
        (0..<exponent).reduce(1) { product, _ in product * 10 }
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// A cursor over ASCII bytes; only ASCII digits count as digits, so `٢٠٢٦` is rejected.
    private struct ByteCursor {
        let bytes: [UInt8]
        var position = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { position == bytes.count }
        var peek: UInt8? { atEnd ? nil : bytes[position] }

        mutating func skip(_ character: Unicode.Scalar) -> Bool {
            guard peek == UInt8(ascii: character) else { return false }
            position += 1
            return true
        }

        /// Exactly `count` digits, not followed by another digit.
        mutating func digits(_ count: Int) -> Int? {
            let run = digitRun()
            guard run.count == count else { return nil }
            return run.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        }

        mutating func digitRun() -> ArraySlice<UInt8> {
            let start = position
            while let byte = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                position += 1
            }
            return bytes[start..<position]
        }
    }
}
