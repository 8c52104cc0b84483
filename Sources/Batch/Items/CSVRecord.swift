/// The column names of a CSV file's header line, shared by all its records.
public final class CSVHeader: Sendable {
    /// The names, in file order.
    public let names: [String]
    private let positions: [String: Int]

    /// Creates a header; when a name repeats, lookups by name find its first column.
    public init(_ names: [String]) {
        self.names = names
        var positions: [String: Int] = [:]
        for (index, name) in names.enumerated() where positions[name] == nil {
            positions[name] = index
        }
        self.positions = positions
    }

    /// The index of the column named `name`, if there is one.
    public func index(of name: String) -> Int? {
        positions[name]
    }
}

/// One record of a CSV file: its fields, and the header to find them by name.
///
/// Look a column's index up once (``CSVHeader/index(of:)``) when reading many records fast;
/// the subscript by name hashes the name on every call.
public struct CSVRecord: Sendable {
    /// The fields, unquoted.
    public let fields: [String]
    /// The file's header, when the reader was told there is one.
    public let header: CSVHeader?
    /// The 1-based line on which the record starts.
    public let line: Int

    /// Creates a record.
    public init(fields: [String], header: CSVHeader? = nil, line: Int) {
        self.fields = fields
        self.header = header
        self.line = line
    }

    /// The field at `index`; traps when out of range (with a header, every record has as many
    /// fields as it has names).
    public subscript(index: Int) -> String {
        fields[index]
    }

    /// The field in the column named `name`; nil when there is no header or no such column.
    public subscript(name: String) -> String? {
        guard let index = header?.index(of: name), index < fields.count else { return nil }
        return fields[index]
    }
}
