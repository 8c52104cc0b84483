import Batch
import PostgresClient

/// The pages of a table ordered by a unique `bigint` key, for a `MultiThreadedChunkStep`. The
/// step plans pages a few dozen at a time with one query that reads only keys,
///
///     SELECT k FROM (SELECT <key> AS k, row_number() OVER (ORDER BY <key>) AS n FROM <table>
///                    WHERE (<condition>) AND <key> BETWEEN $lower AND $upper
///                    ORDER BY <key> LIMIT $limit * $pages) s
///     WHERE n % $limit = 0 ORDER BY k
///
/// and each thread then fetches its own page with
///
///     SELECT <columns>, <key> FROM <table>
///     WHERE (<condition>) AND <key> >= $lower AND <key> <= $upper ORDER BY <key>
///
/// both prepared, and read through the asking thread's chunk transaction (or through
/// `connection`), so with an index on the key both are index range scans. Keys may have gaps.
///
/// The step keeps its checkpoint under ``name`` (`.done_through`, `.committed_above`): see
/// `KeyRangeCheckpoint`.
///
/// - Important: the key must be unique (a primary key or a unique index), and the rows selected
///   must not change while the step runs.
public struct PostgresKeysetPageSource<Item>: KeyedPageSource {
    public let name: String
    public let keys: ClosedRange<Int64>?

    private let sql: String
    private let endsSQL: String
    private let conditionBindings: PostgresBindings
    private let keyColumn: Int
    private let map: @Sendable (PostgresRow) throws -> Item
    private let connection: PostgresConnection?

    /// - Parameters:
    ///   - table: The table (or view) read; quoted as an identifier.
    ///   - schema: Its schema, or nil for the search path.
    ///   - columns: The columns selected, in the order `map` decodes them; quoted as identifiers.
    ///   - key: The unique `bigint` column that orders and pages the table.
    ///   - keys: Only keys in this range, both ends included (a partition); nil for all.
    ///   - condition: An extra filter, ANDed in; its values are bound, and it must not depend on
    ///     anything that changes while the step runs.
    ///   - name: The prefix of the checkpoint's context keys; unique within the step.
    ///   - connection: A connection to read through, for a source database that is not the job
    ///     repository's: it must then be used by one thread at a time, so give the step one
    ///     thread; nil reads through each page's transaction.
    ///   - map: Turns a row into an item; called by the thread that took the page.
    public init(
        table: String, schema: String? = nil, columns: [String], key: String, keys: ClosedRange<Int64>? = nil,
        where condition: PostgresQuery? = nil, name: String = "keysetPages", connection: PostgresConnection? = nil,
        map: @escaping @Sendable (PostgresRow) throws -> Item
    ) {
        precondition(!columns.isEmpty, "a keyset page source needs at least one column")
        self.name = name
        self.keys = keys
        self.map = map
        self.connection = connection
        let query = KeysetQuery(table: table, schema: schema, columns: columns, key: key, condition: condition)
        keyColumn = query.keyColumn
        let (quotedKey, first) = (query.quotedKey, query.nextParameter)
        let from = query.fromWhere + "\(quotedKey) >= $\(first) AND \(quotedKey) <= $\(first + 1) ORDER BY \(quotedKey)"
        self.sql = query.select + from
        self.endsSQL = "SELECT k FROM (SELECT \(quotedKey) AS k, row_number() OVER (ORDER BY \(quotedKey)) AS n"
            + from + " LIMIT $\(first + 2)) s WHERE n % $\(first + 3) = 0 ORDER BY k"
        self.conditionBindings = query.conditionBindings
    }

    public func pageEnds(in keys: ClosedRange<Int64>, every limit: Int, pages: Int, in chunk: ChunkContext) throws -> [Int64] {
        var bindings = conditionBindings
        bindings.append(keys.lowerBound)
        bindings.append(keys.upperBound)
        bindings.append(Int64(limit) * Int64(pages))
        bindings.append(Int64(limit))
        let connection = try self.connection ?? chunk.postgresConnection()
        return try connection.query(PostgresQuery(unsafeSQL: endsSQL, bindings: bindings), prepared: true)
            .map { try $0.decode(Int64.self, column: 0) }
    }

    public func fetch(_ keys: ClosedRange<Int64>, in chunk: ChunkContext) throws -> Page {
        var bindings = conditionBindings
        bindings.append(keys.lowerBound)
        bindings.append(keys.upperBound)
        let connection = try self.connection ?? chunk.postgresConnection()
        let result = try connection.query(PostgresQuery(unsafeSQL: sql, bindings: bindings), prepared: true)
        return Page(result: result, keyColumn: keyColumn, map: map)
    }

    /// The rows of one page, made into items on demand.
    public struct Page: KeyedPage {
        let result: PostgresResult
        let keyColumn: Int
        let map: @Sendable (PostgresRow) throws -> Item

        public var count: Int { result.count }

        public func key(at position: Int) throws -> Int64 {
            try result[position].decode(Int64.self, column: keyColumn)
        }

        public func item(at position: Int) throws -> Item {
            try map(result[position])
        }
    }
}
