import Batch
import PostgresClient

/// A date job parameter binds as PostgreSQL's own type for its kind, so it can be used in SQL
/// as it is (`WHERE booked_on = \(day)`, `\(day) + 1`), and reads back from those types:
///
/// | `JobParameterDate.Kind`    | PostgreSQL    |
/// |----------------------------|---------------|
/// | `localDate`                | `date`        |
/// | `localDateTime`            | `timestamp`   |
/// | `instant`                  | `timestamptz` |
///
/// A NULL (a missing optional parameter) is sent with no type, for the server to infer.
extension JobParameterDate: PostgresEncodable, PostgresDecodable {
    public static var postgresType: PostgresDataType { .unspecified }

    public var postgresValueType: PostgresDataType {
        switch kind {
        case .localDate: .date
        case .localDateTime: .timestamp
        case .instant: .timestamptz
        }
    }

    /// The canonical text (`2026-01-31`, `2026-01-31T10:15:30`, `2026-01-31T10:15:30Z`), which
    /// PostgreSQL reads as its type; fractions beyond microseconds are rounded by the server.
    public func encodeText(into buffer: inout [UInt8]) {
        buffer.append(contentsOf: description.utf8)
    }

    /// Reads a `date` as a calendar date, a `timestamp` as a local date-time and a `timestamptz`
    /// as an instant (the session's time zone is UTC); refuses other types, infinities and
    /// dates outside 0001–9999.
    public init(postgresText bytes: UnsafeBufferPointer<UInt8>, type: PostgresDataType, context: PostgresCell) throws {
        var text = String(decoding: bytes, as: UTF8.self)
        switch type {
        case .date:
            break
        case .timestamp:
            text = text.replacingSpace()
        case .timestamptz where text.hasSuffix("+00"):
            text = String(text.dropLast(3)).replacingSpace() + "Z"
        default:
            throw context.decodingError("a date job parameter (a date, timestamp or timestamptz in UTC)")
        }
        guard let value = JobParameterDate(text) else {
            throw context.decodingError("a date job parameter (years 0001-9999)")
        }
        self = value
    }
}

extension String {
    /// PostgreSQL's `2026-01-31 10:15:30` as ISO's `2026-01-31T10:15:30`.
    fileprivate func replacingSpace() -> String {
        guard let space = firstIndex(of: " ") else { return self }
        var copy = self
        copy.replaceSubrange(space...space, with: "T")
        return copy
    }
}
