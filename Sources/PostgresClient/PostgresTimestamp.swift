internal import BatchSupport
import Foundation

/// Conversions between `Date` and PostgreSQL's ISO text forms of `timestamptz`, `timestamp` and
/// `date`. Every connection sets `DateStyle=ISO` and `TimeZone=UTC`, so the server always sends
/// `YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM[:SS]]]`; timestamps without a zone are read as UTC.
enum PostgresTimestamp {
    /// Appends `YYYY-MM-DD HH:MM:SS.ffffff+00`, rounded to the microsecond PostgreSQL keeps.
    static func appendText(for date: Date, to buffer: inout [UInt8]) {
        let micros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        let (seconds, fraction) = CivilCalendar.floorDivide(Int64(micros), 1_000_000)
        let (days, secondOfDay) = CivilCalendar.floorDivide(seconds, 86_400)
        let (year, month, day) = CivilCalendar.date(fromDays: days)
        if year <= 0 {
            // Outside what anyone stores in a batch repository; fall back to an explicit epoch form.
            buffer.append(contentsOf: "epoch".utf8)
            return
        }
        pad(Int64(year), 4, &buffer)
        buffer.append(UInt8(ascii: "-"))
        pad(Int64(month), 2, &buffer)
        buffer.append(UInt8(ascii: "-"))
        pad(Int64(day), 2, &buffer)
        buffer.append(UInt8(ascii: " "))
        pad(secondOfDay / 3600, 2, &buffer)
        buffer.append(UInt8(ascii: ":"))
        pad(secondOfDay / 60 % 60, 2, &buffer)
        buffer.append(UInt8(ascii: ":"))
        pad(secondOfDay % 60, 2, &buffer)
        buffer.append(UInt8(ascii: "."))
        pad(fraction, 6, &buffer)
        buffer.append(contentsOf: "+00".utf8)
    }

    /// Parses the server's ISO output; nil when the text is not of that form (including
    /// `infinity`, which has no `Date`).
    static func parse(_ text: UnsafeBufferPointer<UInt8>) -> Date? {
        var scanner = Scanner(text)
        guard let year = scanner.digits(4), scanner.skip("-"),
            let month = scanner.digits(2), scanner.skip("-"),
            let day = scanner.digits(2)
        else { return nil }
        guard (1...12).contains(month), (1...31).contains(day) else { return nil }
        var seconds = CivilCalendar.days(year: Int(year), month: Int(month), day: Int(day)) * 86_400
        var micros: Int64 = 0
        if scanner.skip(" ") || scanner.skip("T") {
            guard let hour = scanner.digits(2), scanner.skip(":"),
                let minute = scanner.digits(2), scanner.skip(":"),
                let second = scanner.digits(2)
            else { return nil }
            seconds += hour * 3600 + minute * 60 + second
            if scanner.skip(".") {
                var scale: Int64 = 100_000
                while let digit = scanner.digit() {
                    micros += digit * scale
                    scale /= 10
                }
            }
            if let sign = scanner.sign() {
                guard let offsetHours = scanner.digits(2) else { return nil }
                var offset = offsetHours * 3600
                if scanner.skip(":"), let offsetMinutes = scanner.digits(2) {
                    offset += offsetMinutes * 60
                    if scanner.skip(":"), let offsetSeconds = scanner.digits(2) {
                        offset += offsetSeconds
                    }
                }
                seconds -= sign * offset
            }
        }
        guard scanner.atEnd else { return nil }
        return Date(timeIntervalSince1970: Double(seconds) + Double(micros) / 1_000_000)
    }

    private static func pad(_ value: Int64, _ width: Int, _ buffer: inout [UInt8]) {
        var digits = [UInt8](repeating: UInt8(ascii: "0"), count: width)
        var rest = value
        var index = width
        while index > 0 {
            index -= 1
            digits[index] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
        }
        buffer.append(contentsOf: digits)
    }

    private struct Scanner {
        let text: UnsafeBufferPointer<UInt8>
        var index = 0
        init(_ text: UnsafeBufferPointer<UInt8>) { self.text = text }

        var atEnd: Bool { index == text.count }

        mutating func digit() -> Int64? {
            guard index < text.count, text[index] >= 48, text[index] <= 57 else { return nil }
            defer { index += 1 }
            return Int64(text[index] - 48)
        }

        mutating func digits(_ count: Int) -> Int64? {
            var value: Int64 = 0
            for _ in 0..<count {
                guard let digit = digit() else { return nil }
                value = value * 10 + digit
            }
            return value
        }

        mutating func skip(_ character: Unicode.Scalar) -> Bool {
            guard index < text.count, text[index] == UInt8(ascii: character) else { return false }
            index += 1
            return true
        }

        mutating func sign() -> Int64? {
            if skip("+") { return 1 }
            if skip("-") { return -1 }
            return nil
        }
    }
}
