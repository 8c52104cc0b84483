import Batch
import PostgresClient

/// Writes items into a table with multi-row `INSERT` statements through the chunk's
/// transaction, so the rows commit with the chunk's checkpoint (exactly once).
///
///     PostgresInsertItemWriter<Payment>(table: "payments", columns: ["id", "amount"], suffix: .onConflictDoNothing) { payment, values in
///         values.append(payment.id)
///         values.append(payment.amount)
///     }
///
/// Each statement is `INSERT INTO <table> (<columns>) VALUES ($1, $2), ($3, $4), ... <suffix>`
/// with every value bound; a chunk needing more than PostgreSQL's 65535 parameters is split
/// over several statements. Use it over ``PostgresCopyItemWriter`` when rows may conflict
/// (`ON CONFLICT`) or the table has rules COPY does not fire.
///
/// The statements are queued in the chunk's transaction and go out with its save and COMMIT,
/// in one round trip: a row the server refuses fails that commit statement with the row's
/// error (the chunk rolls back as it would have anyway).
///
/// - Important: `encode` binds exactly one value per column, in the order of `columns`;
///   the writer throws otherwise.
public final class PostgresInsertItemWriter<Item>: ItemWriter {
    /// The most parameters one statement can bind.
    public static var maximumParameters: Int { 65535 }

    private let columnCount: Int
    private let prefix: String
    private let suffix: String
    private let encode: (Item, inout PostgresBindings) throws -> Void
    /// The most rows one statement inserts.
    private let rowsPerStatement: Int
    /// The last statement built; it is prepared once it is used a second time.
    private var cached: (rows: Int, sql: String)?

    /// Creates a writer.
    ///
    /// - Parameters:
    ///   - table: The table written; quoted as an identifier.
    ///   - schema: Its schema, or nil for the search path.
    ///   - columns: The columns written, in the order `encode` binds them; quoted as
    ///     identifiers.
    ///   - suffix: What follows the `VALUES` list, such as ``PostgresInsertSuffix/onConflictDoNothing``.
    ///   - encode: Binds an item's values (`values.append(...)`, `values.appendNull()`).
    public init(
        table: String, schema: String? = nil, columns: [String], suffix: PostgresInsertSuffix = .none,
        encode: @escaping (Item, inout PostgresBindings) throws -> Void
    ) {
        precondition(!columns.isEmpty, "an INSERT writer needs at least one column")
        precondition(columns.count <= Self.maximumParameters, "more columns than PostgreSQL can bind")
        columnCount = columns.count
        var prefix = "INSERT INTO " + (schema.map { PostgresQuery.quoteIdentifier($0) + "." } ?? "")
        prefix += PostgresQuery.quoteIdentifier(table)
        prefix += " (" + columns.map(PostgresQuery.quoteIdentifier).joined(separator: ", ") + ") VALUES "
        self.prefix = prefix
        self.suffix = suffix.sql
        self.encode = encode
        self.rowsPerStatement = Self.maximumParameters / columns.count
    }

    /// Inserts the items, in the chunk's transaction.
    ///
    /// - Throws: `PostgresError` when the server refuses a row (the chunk must roll back) or
    ///   `encode` binds the wrong number of values; what `encode` throws.
    public func write(_ items: [Item], in chunk: ChunkContext) throws {
        guard !items.isEmpty else { return }
        let connection = try chunk.postgresConnection()
        var start = items.startIndex
        while start < items.endIndex {
            let end = min(start + rowsPerStatement, items.endIndex)
            var bindings = PostgresBindings(capacity: (end - start) * columnCount)
            for item in items[start..<end] {
                let before = bindings.count
                try encode(item, &bindings)
                guard bindings.count - before == columnCount else {
                    throw PostgresError(
                        kind: .usage,
                        message: "the INSERT writer's encode bound \(bindings.count - before) values for an item, "
                            + "but it writes \(columnCount) columns; bind one value per column")
                }
            }
            let (sql, repeated) = statement(rows: end - start)
            let insert = PostgresQuery(unsafeSQL: sql, bindings: bindings)
            if connection.isInTransaction {
                // Queued: it goes out with the chunk's save and COMMIT, in one round trip.
                try connection.queue(insert, prepared: repeated)
            } else {
                try connection.execute(insert, prepared: repeated)
            }
            start = end
        }
    }

    /// The statement for `rows` rows, and whether it was just used (worth preparing).
    private func statement(rows: Int) -> (sql: String, repeated: Bool) {
        if let cached, cached.rows == rows { return (cached.sql, true) }
        var sql = prefix
        sql.reserveCapacity(prefix.count + rows * columnCount * 8 + suffix.count)
        var parameter = 0
        for row in 0..<rows {
            sql += row == 0 ? "(" : ", ("
            for column in 0..<columnCount {
                if column > 0 { sql += ", " }
                parameter += 1
                sql += "$\(parameter)"
            }
            sql += ")"
        }
        sql += suffix
        cached = (rows, sql)
        return (sql, false)
    }
}

/// What follows the `VALUES` list of a ``PostgresInsertItemWriter``'s statements.
public struct PostgresInsertSuffix: Sendable {
    /// The SQL text, with a leading space when not empty.
    public let sql: String

    private init(sql: String) {
        self.sql = sql
    }

    /// Nothing: a conflicting row fails the chunk.
    public static let none = PostgresInsertSuffix(sql: "")
    /// `ON CONFLICT DO NOTHING`: rows that conflict are left out (so a chunk may store fewer
    /// rows than it was given).
    public static let onConflictDoNothing = PostgresInsertSuffix(sql: " ON CONFLICT DO NOTHING")

    /// Text appended as it is, e.g. `ON CONFLICT (id) DO UPDATE SET amount = EXCLUDED.amount`.
    ///
    /// - Important: sent as written, with no parameters: only for SQL the program itself
    ///   holds, never for input.
    public static func unsafeSQL(_ text: String) -> PostgresInsertSuffix {
        PostgresInsertSuffix(sql: " " + text)
    }
}
