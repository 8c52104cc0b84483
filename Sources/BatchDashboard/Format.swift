import Batch
import Foundation

/// How values are written on the pages.
enum Format {
    /// `2026-12-04 22:13:05` in UTC (the repository's clock), or an em dash.
    static func time(_ date: Date?) -> String {
        guard let date else { return "—" }
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let rest = seconds - days * 86_400
        let (year, month, day) = civil(fromDays: days)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d", year, month, day, rest / 3600, rest / 60 % 60, rest % 60)
    }

    /// A `<time>` element with the UTC time.
    static func timeTag(_ date: Date?) -> String {
        guard let date else { return "—" }
        let text = time(date)
        return "<time datetime=\"\(text.replacingOccurrences(of: " ", with: "T"))Z\">\(text)</time>"
    }

    /// `1:05` or `2:03:04`, as the CLI's progress line writes durations.
    static func clock(_ seconds: Double?) -> String {
        guard let seconds, seconds.isFinite else { return "—" }
        let total = Int(max(0, seconds).rounded())
        let (hours, minutes, secs) = (total / 3600, total / 60 % 60, total % 60)
        return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, secs) : String(format: "%d:%02d", minutes, secs)
    }

    /// `1 234 567` (thin spaces between thousands).
    static func count(_ value: Int64) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out += "\u{202F}" }
            out.append(digit)
        }
        return (value < 0 ? "-" : "") + out
    }

    static func count(_ value: Int) -> String { count(Int64(value)) }

    static func rate(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "—" }
        return value >= 100 ? count(Int64(value.rounded())) : String(format: "%.1f", value)
    }

    static func seconds(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "—" }
        return String(format: "%.1f s", value)
    }

    /// A status as a coloured badge.
    static func badge(_ status: String) -> String {
        let css = status.lowercased().filter { $0.isLetter }
        return "<span class=\"badge s-\(css)\">\(esc(status))</span>"
    }

    static func badge(_ status: BatchStatus) -> String { badge(status.rawValue) }

    /// Days since 1970-01-01 to a civil date (proleptic Gregorian).
    private static func civil(fromDays days: Int64) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (Int(m <= 2 ? y + 1 : y), Int(m), Int(d))
    }

    /// Parses a filter time: `2026-12-04`, `2026-12-04T10:30`, `2026-12-04 10:30:15` (UTC).
    static func parseTime(_ text: String) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let parts = trimmed.split(whereSeparator: { $0 == "T" || $0 == " " })
        guard let datePart = parts.first, parts.count <= 2 else { return nil }
        let ymd = datePart.split(separator: "-").compactMap { Int($0) }
        guard ymd.count == 3, (1...12).contains(ymd[1]), (1...31).contains(ymd[2]), (1970...9999).contains(ymd[0]) else { return nil }
        var hms = [0, 0, 0]
        if parts.count == 2 {
            let given = parts[1].split(separator: ":").map { Int($0) }
            guard (2...3).contains(given.count), given.allSatisfy({ $0 != nil }) else { return nil }
            for (index, value) in given.enumerated() { hms[index] = value! }
            guard hms[0] < 24, hms[1] < 60, hms[2] < 60 else { return nil }
        }
        var components = DateComponents()
        components.year = ymd[0]
        components.month = ymd[1]
        components.day = ymd[2]
        components.hour = hms[0]
        components.minute = hms[1]
        components.second = hms[2]
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let date = calendar.date(from: components), calendar.component(.day, from: date) == ymd[2] else { return nil }
        return date
    }
}
