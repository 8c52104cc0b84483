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
/// - Important: `encode` appends one field per column, in the order of `columns`, and does not
///   end the row: the writer calls `endRow()` after each item.
public final class PostgresCopyItemWriter<Item>: ItemWriter {
    private let statement: PostgresQuery
    private let encode: (Item, inout PostgresCopyWriter) throws -> Void

    /// Creates a writer.
    ///
    /// - Parameters:
    ///   - table: The table written; quoted as an identifier.
    ///   - schema: Its schema, or nil for the search path.
    ///   - columns: The columns written, in the order `encode` appends them; quoted as
    ///     identifiers. Others take their defaults.
    ///   - encode: Appends an item's fields (`appendField`, `appendNull`) to the current row.
    public init(
        table: String, schema: String? = nil, columns: [String],
        encode: @escaping (Item, inout PostgresCopyWriter) throws -> Void
    ) {
        precondition(!columns.isEmpty, "a COPY writer needs at least one column")
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
        try connection.copyFrom(statement) { row in
            for item in items {
                try encode(item, &row)
                try row.endRow()
            }
        }
    }
}
