import BatchSupport

/// A row's key: one ``KeyValue`` per key column, in the key's order (one value for a
/// single-column key, several for a composite key such as `(day, name)`).
///
/// Keys order rows by their first value, then the second, and so on, as PostgreSQL's row
/// comparison `(day, name) > ($1, $2)` does. A key with fewer values than the key has columns
/// is a *prefix*: as a range bound it compares the leading columns only, so
/// `[.date("2026-03-01")]` bounds a `(day, name)` key by its day alone.
public struct RowKey: Sendable, Hashable, CustomStringConvertible, ExpressibleByArrayLiteral {
    /// The values, in the key's column order.
    public var values: [KeyValue]

    public init(_ values: [KeyValue]) {
        self.values = values
    }

    public init(arrayLiteral elements: KeyValue...) {
        self.init(elements)
    }

    /// A single-column key.
    public init(_ value: KeyValue) {
        self.init([value])
    }

    /// How many columns the key has values for.
    public var count: Int { values.count }

    /// `(date 2026-03-01, text "Zürich")`.
    public var description: String {
        "(" + values.map(\.description).joined(separator: ", ") + ")"
    }

    // MARK: Context form

    /// The key in a context: a list of ``KeyValue/json``s,
    /// `[{"date": "2026-03-01"}, {"text": "Zürich"}]`.
    public var json: JSONValue {
        .array(values.map(\.json))
    }

    /// Reads ``json``'s form back (a lone bigint, the form earlier keyset readers saved, reads as
    /// a one-column bigint key); nil when `json` is neither.
    public init?(json: JSONValue) {
        switch json {
        case .int(let value):
            self.init(.bigint(value))
        case .array(let items) where !items.isEmpty:
            var values: [KeyValue] = []
            for item in items {
                guard let value = KeyValue(json: item) else { return nil }
                values.append(value)
            }
            self.init(values)
        default:
            return nil
        }
    }

    /// What ``init(json:)`` expects, for error messages.
    public static let jsonFormHelp = #"a list of typed values such as [{"date":"2026-03-01"},{"text":"a"}]"#
}
