import BatchSupport

/// One column's value of a row's key, typed as the column is: what keyset readers page by,
/// what range partitioners split on, and what checkpoints and partition contexts store.
///
/// Every value but ``bigint(_:)`` is kept in the text form the database reads and prints
/// (PostgreSQL's, with `DateStyle=ISO` and `TimeZone=UTC`, which every SwiftBatch connection
/// sets), so nothing is lost between the database, the context and the next query: a
/// `numeric` keeps every digit, a timestamp every microsecond.
///
/// ```swift
/// let key: RowKey = [.date("2026-03-01"), .text("Zürich")]
/// let partition = KeyRange(from: [.date("2026-03-01")], below: [.date("2026-03-08")])
/// ```
///
/// Values of the same kind are compared by the database, never in Swift (text order depends on
/// the column's collation).
public enum KeyValue: Sendable, Hashable, CustomStringConvertible {
    /// An integer column: `bigint`, `integer` or `smallint`.
    case bigint(Int64)
    /// A character column: `text`, `varchar`, `char`; ordered by the column's collation.
    case text(String)
    /// A `uuid`, as `8-4-4-4-12` lowercase hex digits.
    case uuid(String)
    /// A `date`, as `YYYY-MM-DD`.
    case date(String)
    /// A `timestamp` (without time zone), as `YYYY-MM-DD HH:MM:SS[.ffffff]`.
    case timestamp(String)
    /// A `timestamptz`, as `YYYY-MM-DD HH:MM:SS[.ffffff]+00` (any offset the database reads).
    case timestamptz(String)
    /// A `numeric`, as its exact decimal text (`12.50`).
    case numeric(String)

    /// The kinds of key column.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case bigint, text, uuid, date, timestamp, timestamptz, numeric
    }

    /// A value of `kind` from its text form; nil when a `bigint` is not a 64-bit integer.
    public init?(kind: Kind, text: String) {
        switch kind {
        case .bigint:
            guard let value = Int64(text) else { return nil }
            self = .bigint(value)
        case .text: self = .text(text)
        case .uuid: self = .uuid(text)
        case .date: self = .date(text)
        case .timestamp: self = .timestamp(text)
        case .timestamptz: self = .timestamptz(text)
        case .numeric: self = .numeric(text)
        }
    }

    /// A `date` key of a calendar day.
    public static func date(year: Int, month: Int, day: Int) -> KeyValue {
        .date(CivilCalendar.isoDate(year: year, month: month, day: day))
    }

    /// The kind of column the value belongs to.
    public var kind: Kind {
        switch self {
        case .bigint: .bigint
        case .text: .text
        case .uuid: .uuid
        case .date: .date
        case .timestamp: .timestamp
        case .timestamptz: .timestamptz
        case .numeric: .numeric
        }
    }

    /// The value's text form, as the database reads it.
    public var text: String {
        switch self {
        case .bigint(let value): String(value)
        case .text(let value), .uuid(let value), .date(let value), .timestamp(let value),
            .timestamptz(let value), .numeric(let value):
            value
        }
    }

    /// `date 2026-03-01`, `text "Zürich"`.
    public var description: String {
        switch self {
        case .text(let value): "text \"\(value)\""
        default: "\(kind.rawValue) \(text)"
        }
    }

    // MARK: Context form

    /// The value in a context: `{"date": "2026-03-01"}`, `{"bigint": 42}` (an integer), and so on.
    public var json: JSONValue {
        switch self {
        case .bigint(let value): .object([Kind.bigint.rawValue: .int(value)])
        default: .object([kind.rawValue: .string(text)])
        }
    }

    /// Reads ``json``'s form back; nil when `json` is not such a one-member object.
    public init?(json: JSONValue) {
        guard case .object(let members) = json, members.count == 1, let (name, value) = members.first,
            let kind = Kind(rawValue: name)
        else { return nil }
        switch (kind, value) {
        case (.bigint, .int(let number)): self = .bigint(number)
        case (.bigint, _): return nil
        case (_, .string(let text)): self.init(kind: kind, text: text)
        default: return nil
        }
    }
}
