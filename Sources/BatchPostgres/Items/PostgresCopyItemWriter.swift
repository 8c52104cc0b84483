import Batch
import PostgresClient

/// Writes items into a table with `COPY ... FROM STDIN` through the chunk's transaction: the
/// fastest way in, and exactly once, since the rows commit with the chunk's checkpoint.
///
///     PostgresCopyItemWriter<Payment>(table: "payments", columns: ["id", "amount", "memo"]) { payment, row in
///         row.appendField(payment.id)
///         row.appendField(payment.amount)
///         row.appendField(payment.memo)  // an Optional: nil is NULL
///     }
///
/// One bad row (a duplicate key, a value of the wrong type) fails the whole chunk, which rolls
/// back; the step's skip policy can then find the row by writing the chunk again item by item.
///
/// ## Near and far databases
///
/// A COPY costs two round trips of its own (start it, send the rows). Near the database they
/// cost nothing much and COPY is the cheapest way in for the server. Across a network with a
/// long round trip they are most of a chunk's time, so by default (``PostgresBulkWriteMode/automatic``) the
/// writer then sends the same rows as one `INSERT ... SELECT FROM unnest(...)` statement (a
/// ``PostgresClient/PostgresArrayInsert``), queued to travel with the chunk's checkpoint and
/// COMMIT: no round trip of its own, for somewhat more server work per row. The values are
/// parsed by the same input functions either way. A write the server refuses then fails the
/// chunk's commit statement instead of the write (same error, same rollback); skip policies
/// and retries work the same.
///
/// - Important: `encode` appends one field per column, in the order of `columns`, and does not
///   end the row: the writer calls `endRow()` after each item.
public final class PostgresCopyItemWriter<Item>: ItemWriter {
    private let statement: PostgresQuery
    private let encode: (Item, inout PostgresCopyWriter) throws -> Void
    /// How rows are sent.
    public let mode: PostgresBulkWriteMode
    private let table: String
    private let schema: String?
    private let columns: [String]
    /// The pipelined INSERT, once the columns' types are known; nil until then.
    private var insert: PostgresArrayInsert?
    /// Whether the table cannot take the pipelined INSERT (an array column): COPY always.
    private var copyOnly = false

    /// Creates a writer.
    ///
    /// - Parameters:
    ///   - table: The table written; quoted as an identifier.
    ///   - schema: Its schema, or nil for the search path.
    ///   - columns: The columns written, in the order `encode` appends them; quoted as
    ///     identifiers. Others take their defaults.
    ///   - mode: How rows are sent (see "Near and far databases" above).
    ///   - encode: Appends an item's fields (`appendField`, `appendNull`) to the current row.
    public init(
        table: String, schema: String? = nil, columns: [String], mode: PostgresBulkWriteMode = .automatic,
        encode: @escaping (Item, inout PostgresCopyWriter) throws -> Void
    ) {
        precondition(!columns.isEmpty, "a COPY writer needs at least one column")
        self.mode = mode
        self.table = table
        self.schema = schema
        self.columns = columns
        var sql = "COPY " + (schema.map { PostgresQuery.quoteIdentifier($0) + "." } ?? "")
        sql += PostgresQuery.quoteIdentifier(table)
        sql += " (" + columns.map(PostgresQuery.quoteIdentifier).joined(separator: ", ") + ") FROM STDIN"
        self.statement = PostgresQuery(unsafeSQL: sql)
        self.encode = encode
    }

    /// Copies the items into the table, in the chunk's transaction.
    ///
    /// - Throws: `PostgresError` when the server refuses a row (the chunk must roll back), or
    ///   what `encode` throws.
    public func write(_ items: [Item], in chunk: ChunkContext) throws {
        guard !items.isEmpty else { return }
        let connection = try chunk.postgresConnection()
        let body: (inout PostgresCopyWriter) throws -> Void = { row in
            for item in items {
                try self.encode(item, &row)
                try row.endRow()
            }
        }
        if let insert = try pipelinedInsert(on: connection) {
            try connection.queueInsert(insert, rowCapacity: items.count, body)
        } else {
            try connection.copyFrom(statement, body)
        }
    }

    /// The pipelined INSERT when this write should use it, nil for a COPY.
    private func pipelinedInsert(on connection: PostgresConnection) throws -> PostgresArrayInsert? {
        guard !copyOnly else { return nil }
        switch mode {
        case .copy: return nil
        case .automatic(let threshold):
            guard let roundTrip = connection.fastestRoundTrip, roundTrip >= threshold else { return nil }
        case .pipelinedInsert: break
        }
        if let insert { return insert }
        do {
            let types = try connection.columnTypes(of: table, schema: schema, columns: columns)
            insert = PostgresArrayInsert(table: table, schema: schema, columns: columns, types: types)
            return insert
        } catch is ArrayInsertUnsuitable {
            copyOnly = true
            return nil
        }
    }
}

/// How a ``PostgresCopyItemWriter`` sends rows: COPY, or an INSERT pipelined with the chunk's
/// commit (see "Near and far databases" there).
public enum PostgresBulkWriteMode: Sendable, Equatable {
    /// `COPY`, or the pipelined INSERT when the connection's shortest round trip so far
    /// (``PostgresClient/PostgresConnection/fastestRoundTrip``) is at least `threshold`.
    case automatic(threshold: Duration)
    /// Always `COPY`.
    case copy
    /// Always the INSERT queued with the chunk's commit (array-typed columns fall back to COPY).
    case pipelinedInsert

    /// ``automatic(threshold:)`` at 0.5 ms: about where two round trips cost more than
    /// the INSERT's extra server work for a chunk of a thousand rows.
    public static let automatic = PostgresBulkWriteMode.automatic(threshold: .microseconds(500))
}
