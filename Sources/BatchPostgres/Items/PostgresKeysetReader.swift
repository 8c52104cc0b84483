import Batch
import PostgresClient

/// Reads a table in pages ordered by a `bigint` key, each page a query that starts after the
/// last key handed out; restartable, and the fastest way through a large table.
///
/// Each page is one prepared statement:
///
///     SELECT <columns>, <key> FROM <table>
///     WHERE (<condition>) AND <key> >= $lower [AND <key> <= $upper]
///     ORDER BY <key> LIMIT <pageSize>
///
/// so with an index on the key every page is an index range scan, however deep into the table
/// (no OFFSET). Keys may have gaps. A `keys` range limits the reader to one partition.
///
/// Context key (prefixed by ``name``): `.last_key`, the key of the last item handed out. The
/// step saves it at each chunk commit, so a restart resumes right after the last committed item.
///
/// - Important: the key must be unique (a primary key or a unique index); rows sharing a key
///   across a page boundary would be skipped.
public final class PostgresKeysetReader<Item>: ItemReader {
    /// The prefix of the reader's context keys.
    public let name: String
    /// The most rows fetched by one query.
    public let pageSize: Int
    /// The keys read, both ends included; nil reads them all.
    public let keys: ClosedRange<Int64>?

    private let connection: PostgresConnection?
    private let map: (PostgresRow) throws -> Item
    private let sql: String
    private let conditionBindings: PostgresBindings
    /// The key's column in the result.
    private let keyColumn: Int
    private let lastKeyKey: String

    private var isOpen = false
    private var page: PostgresResult?
    /// The next row of `page` to hand out.
    private var position = 0
    /// The key of the last item handed out before `page`.
    private var lastKey: Int64?
    /// Whether `page` is the last one.
    private var exhausted = false

    /// Creates a reader; nothing is queried until the first ``read(in:)``.
    ///
    /// - Parameters:
    ///   - table: The table (or view) read; quoted as an identifier.
    ///   - schema: Its schema, or nil for the search path.
    ///   - columns: The columns selected, in the order `map` decodes them (`row.decode(_:column:)`
    ///     index 0 is the first); quoted as identifiers, so plain column names only.
    ///   - key: The unique `bigint` column that orders and pages the table.
    ///   - keys: Only keys in this range, both ends included (a partition); nil for all.
    ///   - condition: An extra filter, ANDed in, e.g. `"status = \(status)"`; its values are
    ///     bound, and it must not depend on anything that changes while the step runs.
    ///   - pageSize: Rows fetched per query.
    ///   - name: The prefix of the context keys; unique within the step.
    ///   - connection: A connection to read through, for a source database that is not the job
    ///     repository's; nil reads through each chunk's transaction (``Batch/ChunkContext/postgresConnection()``).
    ///   - map: Turns a row into an item.
    public init(
        table: String, schema: String? = nil, columns: [String], key: String,
        keys: ClosedRange<Int64>? = nil, where condition: PostgresQuery? = nil, pageSize: Int = 1000,
        name: String = "keysetReader", connection: PostgresConnection? = nil,
        map: @escaping (PostgresRow) throws -> Item
    ) {
        precondition(!columns.isEmpty, "a keyset reader needs at least one column")
        precondition(pageSize > 0, "the page size must be positive")
        self.name = name
        self.pageSize = pageSize
        self.keys = keys
        self.connection = connection
        self.map = map
        self.lastKeyKey = name + ".last_key"

        let query = KeysetQuery(table: table, schema: schema, columns: columns, key: key, condition: condition)
        keyColumn = query.keyColumn
        var parameter = query.nextParameter
        var sql = query.select + query.fromWhere + "\(query.quotedKey) >= $\(parameter)"
        if keys != nil {
            parameter += 1
            sql += " AND \(query.quotedKey) <= $\(parameter)"
        }
        sql += " ORDER BY \(query.quotedKey) LIMIT \(pageSize)"
        self.sql = sql
        self.conditionBindings = query.conditionBindings
    }

    /// Takes the saved last key, if any; the first read starts after it.
    ///
    /// - Throws: `ItemStreamError` when the saved key is not an integer.
    public func open(_ context: ExecutionContext) throws {
        page = nil
        position = 0
        exhausted = false
        lastKey = nil
        if let saved = context[lastKeyKey] {
            guard case .int(let key) = saved else {
                throw ItemStreamError(
                    code: .badCheckpoint, stream: name,
                    message: "the saved context holds \(lastKeyKey) = \(saved), not a bigint key")
            }
            lastKey = key
        }
        isOpen = true
    }

    /// Returns the next row's item, fetching a page when the last one is used up; nil after the
    /// last key.
    public func read(in chunk: ChunkContext) throws -> Item? {
        if let page, position < page.count {
            let row = page[position]
            position += 1
            return try map(row)
        }
        guard isOpen else {
            throw ItemStreamError(code: .notOpen, stream: name, message: "read called before open")
        }
        guard try fetchPage(in: chunk) else { return nil }
        let row = page![position]
        position += 1
        return try map(row)
    }

    /// Saves the key of the last item handed out.
    public func update(_ context: inout ExecutionContext) throws {
        guard isOpen else {
            throw ItemStreamError(code: .notOpen, stream: name, message: "update called before open")
        }
        if let key = try keyHandedOutLast() {
            context[lastKeyKey] = .int(key)
        }
    }

    public func close() throws {
        page = nil
        isOpen = false
    }

    /// Replaces the used-up page with the next one; false when there are no more rows.
    private func fetchPage(in chunk: ChunkContext) throws -> Bool {
        if exhausted { return false }
        lastKey = try keyHandedOutLast()
        page = nil
        position = 0
        let lower: Int64
        if let lastKey {
            guard lastKey < Int64.max else {
                exhausted = true
                return false
            }
            lower = lastKey + 1
        } else {
            lower = keys?.lowerBound ?? Int64.min
        }
        var bindings = conditionBindings
        bindings.append(lower)
        if let keys { bindings.append(keys.upperBound) }
        let connection = try self.connection ?? chunk.postgresConnection()
        let result = try connection.query(PostgresQuery(unsafeSQL: sql, bindings: bindings), prepared: true)
        exhausted = result.count < pageSize
        guard !result.isEmpty else { return false }
        page = result
        return true
    }

    /// The key of the last item handed out, decoded from its row.
    private func keyHandedOutLast() throws -> Int64? {
        guard let page, position > 0 else { return lastKey }
        return try page[position - 1].decode(Int64.self, column: keyColumn)
    }
}
