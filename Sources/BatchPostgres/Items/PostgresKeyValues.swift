import Batch
import PostgresClient

/// How ``KeyValue``s travel to and from PostgreSQL: each bound with its column type's OID
/// (text with none, so `varchar` and `char` columns keep their own type, operators and
/// index), each read from a result column whose type decides its kind.
extension PostgresBindings {
    /// Appends `value` as one parameter of its type.
    mutating func append(_ value: KeyValue) {
        switch value {
        case .bigint(let number): append(number)
        case .text(let text): append(text)
        case .uuid(let text): append(TypedKeyText<UUIDType>(text))
        case .date(let text): append(TypedKeyText<DateType>(text))
        case .timestamp(let text): append(TypedKeyText<TimestampType>(text))
        case .timestamptz(let text): append(TypedKeyText<TimestamptzType>(text))
        case .numeric(let text): append(TypedKeyText<NumericType>(text))
        }
    }

    /// Appends the values of `key`, one parameter each.
    mutating func append(_ key: RowKey) {
        for value in key.values { append(value) }
    }
}

extension KeyValue {
    /// The kind of key a column of type `type` holds; nil for a type no key can be.
    static func kind(of type: PostgresDataType) -> Kind? {
        switch type {
        case .int8, .int4, .int2: .bigint
        case .text, .varchar, .bpchar, PostgresDataType(19) /* name */: .text
        case .uuid: .uuid
        case .date: .date
        case .timestamp: .timestamp
        case .timestamptz: .timestamptz
        case .numeric: .numeric
        default: nil
        }
    }

    /// The key columns' types, for error messages.
    static let supportedTypes = "bigint, integer, smallint, text, varchar, char, uuid, date, timestamp, timestamptz or numeric"

    /// The value in `cell`, typed by its column.
    ///
    /// - Throws: `ItemStreamError` (`badKey`) for NULL or a type no key can be; `stream` names
    ///   the reader in it.
    init(_ cell: PostgresCell, stream: String) throws {
        guard !cell.isNull else {
            throw ItemStreamError(
                code: .badKey, stream: stream,
                message: "a row has NULL in key column \"\(cell.columnName)\": a key orders every row, so it cannot be NULL; "
                    + "make the column NOT NULL, or filter such rows out with the reader's condition")
        }
        guard let kind = Self.kind(of: cell.dataType) else {
            throw ItemStreamError(
                code: .badKey, stream: stream,
                message: "key column \"\(cell.columnName)\" has type OID \(cell.dataType.rawValue), which cannot be a key: "
                    + "key columns are \(Self.supportedTypes) (cast it in the query, e.g. \"col::text\")")
        }
        let text = try cell.decode(String.self)
        if kind == .bigint {
            guard let number = Int64(text) else { throw ItemStreamError(code: .badKey, stream: stream, message: "key column \"\(cell.columnName)\" holds \(text), not an integer") }
            self = .bigint(number)
        } else {
            self.init(kind: kind, text: text)!
        }
    }
}

extension RowKey {
    /// The key in `columns` of `row`.
    init(_ row: PostgresRow, columns: [Int], stream: String) throws {
        var values: [KeyValue] = []
        values.reserveCapacity(columns.count)
        for column in columns { values.append(try KeyValue(row[column], stream: stream)) }
        self.init(values)
    }
}

/// A key value's text, bound with the OID of `Type`.
struct TypedKeyText<Type: KeyColumnType>: PostgresEncodable {
    let text: String
    init(_ text: String) { self.text = text }
    static var postgresType: PostgresDataType { Type.type }
    func encodeText(into buffer: inout [UInt8]) { buffer.append(contentsOf: text.utf8) }
}

protocol KeyColumnType { static var type: PostgresDataType { get } }
enum UUIDType: KeyColumnType { static var type: PostgresDataType { .uuid } }
enum DateType: KeyColumnType { static var type: PostgresDataType { .date } }
enum TimestampType: KeyColumnType { static var type: PostgresDataType { .timestamp } }
enum TimestamptzType: KeyColumnType { static var type: PostgresDataType { .timestamptz } }
enum NumericType: KeyColumnType { static var type: PostgresDataType { .numeric } }
