import Batch
import PostgresClient

/// Reads a table (or any query) in pages ordered by a key, each page a query that starts after
/// the last key handed out; restartable, and the fastest way through a large table.
///
/// The key may be one `bigint` column (`key:`, the fast path described here), or any unique key
/// of one or more columns of `bigint`, `text`, `uuid`, `date`, `timestamp`, `timestamptz` or
/// `numeric` (`keyColumns:`), read from a table or from any query: see
/// ``init(table:schema:columns:keyColumns:range:where:pageSize:name:connection:map:)`` and
/// ``init(query:keyColumns:range:pageSize:checkingNullKeys:name:connection:map:)``.
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
    /// The bigint keys read, both ends included; nil reads them all (or the reader is not a
    /// bigint one: see ``range``).
    public let keys: ClosedRange<Int64>?
    /// The keys read by a reader of any key (lower bound included, upper excluded); nil for all,
    /// or for the bigint reader (see ``keys``).
    public var range: KeyRange? { pager?.range }

    private let connection: PostgresConnection?
    private let map: (PostgresRow) throws -> Item
    /// The pages of a key of any kind (the other initializers); nil for the bigint fast path.
    private var pager: KeysetPager?
    /// Whether this run has looked for NULL keys yet.
    private var checkedNulls = false
    /// The pager's last key handed out before `page`.
    private var lastRowKey: RowKey?
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
    /// The next page's query, sent ahead through the step's connection once `page` is used up,
    /// and the lower key it starts at.
    private var prefetched: (query: PrefetchedQuery, lower: Int64, connection: PostgresConnection)?
    /// The same for a key of any kind: the next page's query and the key it follows.
    private var prefetchedKeyed: (query: PrefetchedQuery, after: RowKey, connection: PostgresConnection)?

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

    /// Creates a reader of a table ordered by a key of any kind, of one column or several;
    /// nothing is queried until the first ``read(in:)``.
    ///
    /// Each page is one prepared statement with PostgreSQL's row comparison, so an index on the
    /// key columns (in this order) serves every page as a range scan:
    ///
    ///     SELECT <columns> FROM <table>
    ///     WHERE (<condition>) AND (<keys>) >= (<last key>) [AND (<keys>) < (<upper bound>)]
    ///     ORDER BY <keys> LIMIT <pageSize + 1>
    ///
    /// Key columns may be `bigint`, `integer`, `smallint`, `text`, `varchar`, `char`, `uuid`,
    /// `date`, `timestamp`, `timestamptz` or `numeric`, in any mix; all ascending. The context key
    /// `.last_key` holds the last key handed out as a `RowKey` (`[{"date":"2026-03-01"},
    /// {"text":"a"}]`), exact to the last digit and microsecond, so a restart resumes right after
    /// the last committed item.
    ///
    /// The key must be unique and never NULL. Both are checked, not assumed: a row with a NULL key
    /// (which row comparison would silently leave out) fails the first read, after one query
    /// over the key columns that are not declared NOT NULL; two rows with the same key fail the
    /// read that meets them (each page re-reads the last row handed out to see what follows it).
    /// Either is an `ItemStreamError` with code `badKey`.
    ///
    /// - Parameters:
    ///   - table: The table (or view) read; quoted as an identifier.
    ///   - schema: Its schema, or nil for the search path.
    ///   - columns: The columns selected, in the order `map` decodes them; quoted as identifiers.
    ///     Key columns not among them are selected after them.
    ///   - keyColumns: The unique key's columns, most significant first, e.g. `["day", "name"]`.
    ///   - range: Only keys in this range (lower bound included, upper excluded; a bound may be a
    ///     prefix of the key): a partition's, from `Partition.keys(in:)`. Nil for all.
    ///   - condition: An extra filter, ANDed in; its values are bound, and it must not depend on
    ///     anything that changes while the step runs.
    ///   - pageSize: Rows fetched per query.
    ///   - name: The prefix of the context keys; unique within the step.
    ///   - connection: A connection to read through, for a source database that is not the job
    ///     repository's; nil reads through the step's own connection (each chunk's
    ///     ``Batch/ChunkContext/postgresConnection()``).
    ///   - map: Turns a row into an item.
    public init(
        table: String, schema: String? = nil, columns: [String], keyColumns: [String],
        range: KeyRange? = nil, where condition: PostgresQuery? = nil, pageSize: Int = 1000,
        name: String = "keysetReader", connection: PostgresConnection? = nil,
        map: @escaping (PostgresRow) throws -> Item
    ) {
        precondition(!columns.isEmpty, "a keyset reader needs at least one column")
        precondition(!keyColumns.isEmpty, "a keyset reader needs at least one key column")
        precondition(pageSize > 0, "the page size must be positive")
        self.name = name
        self.pageSize = pageSize
        self.keys = nil
        self.connection = connection
        self.map = map
        self.lastKeyKey = name + ".last_key"
        let query = KeysetQuery(table: table, schema: schema, columns: columns, keys: keyColumns, condition: condition)
        self.pager = KeysetPager(
            source: .table(select: query.select, fromWhere: query.fromWhere, keyColumns: query.keyColumns),
            table: query.qualifiedTable, keys: keyColumns, range: range, pageSize: pageSize,
            bindings: query.conditionBindings, stream: name, checkNulls: true)
        self.sql = ""
        self.conditionBindings = PostgresBindings()
        self.keyColumn = 0
    }

    /// Creates a reader of the rows of any query, in pages ordered by a key among its columns;
    /// nothing is queried until the first ``read(in:)``.
    ///
    /// The query is wrapped, and each page is
    ///
    ///     SELECT * FROM (<query>) AS keyset_source
    ///     WHERE (<keys>) >= (<last key>) [AND (<keys>) < (<upper bound>)]
    ///     ORDER BY <keys> LIMIT <pageSize + 1>
    ///
    /// PostgreSQL pushes the key's bounds into a plain query (joins, filters, no `LIMIT`,
    /// aggregate or window at its top), so with an index on the key each page is still a range
    /// scan; leave `ORDER BY` and `LIMIT` out of the query, the reader adds its own. `map` gets
    /// the query's own columns. Everything else (key types, uniqueness, NULL checks, restart)
    /// is as for the table reader above.
    ///
    /// Each page is its own statement through the step's connection: no cursor or transaction
    /// outlives a chunk, so the reader works whether the chunk's reads run inside its
    /// transaction or before it begins.
    ///
    /// - Parameters:
    ///   - query: A `SELECT` whose result has the key columns; its values are bound.
    ///   - keyColumns: The unique key's columns as the query's result names them.
    ///   - range: Only keys in this range (see the table reader).
    ///   - pageSize: Rows fetched per query.
    ///   - checkingNullKeys: Whether the first read looks for a row with a NULL key (one query
    ///     over the query's rows); turn it off when the key columns cannot be NULL and the query
    ///     is costly to run twice.
    ///   - name: The prefix of the context keys; unique within the step.
    ///   - connection: A connection of another database to read; nil reads through the step's.
    ///   - map: Turns a row into an item.
    public init(
        query: PostgresQuery, keyColumns: [String], range: KeyRange? = nil, pageSize: Int = 1000,
        checkingNullKeys: Bool = true, name: String = "keysetReader", connection: PostgresConnection? = nil,
        map: @escaping (PostgresRow) throws -> Item
    ) {
        precondition(!keyColumns.isEmpty, "a keyset reader needs at least one key column")
        precondition(pageSize > 0, "the page size must be positive")
        self.name = name
        self.pageSize = pageSize
        self.keys = nil
        self.connection = connection
        self.map = map
        self.lastKeyKey = name + ".last_key"
        self.pager = KeysetPager(
            source: .query(selectFromWhere: "SELECT * FROM (" + query.sql + ") AS keyset_source WHERE "),
            table: nil, keys: keyColumns, range: range, pageSize: pageSize, bindings: query.bindings, stream: name,
            checkNulls: checkingNullKeys)
        self.sql = ""
        self.conditionBindings = PostgresBindings()
        self.keyColumn = 0
    }

    /// Takes the saved last key, if any; the first read starts after it.
    ///
    /// - Throws: `ItemStreamError` when the saved key is not an integer.
    public func open(_ context: ExecutionContext) throws {
        dropPrefetched()
        page = nil
        position = 0
        exhausted = false
        lastKey = nil
        if let pager {
            try openKeyed(context, pager)
            isOpen = true
            return
        }
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
            if position == page.count { try prefetchNextPage(in: chunk) }
            return try map(row)
        }
        guard isOpen else {
            throw ItemStreamError(code: .notOpen, stream: name, message: "read called before open")
        }
        guard try fetchPage(in: chunk) else { return nil }
        let row = page![position]
        position += 1
        if position == page!.count { try prefetchNextPage(in: chunk) }
        return try map(row)
    }

    /// Saves the key of the last item handed out.
    public func update(_ context: inout ExecutionContext) throws {
        guard isOpen else {
            throw ItemStreamError(code: .notOpen, stream: name, message: "update called before open")
        }
        if pager != nil {
            if let key = try rowKeyHandedOutLast() { context[lastKeyKey] = key.json }
        } else if let key = try keyHandedOutLast() {
            context[lastKeyKey] = .int(key)
        }
    }

    public func close() throws {
        dropPrefetched()
        page = nil
        isOpen = false
    }

    /// Sends the next page's query ahead, through the step's own connection, when the page in
    /// hand is used up: it travels with the chunk's commit, so reading costs no round trip of
    /// its own (bigint keys; the query runs when read if it could not go ahead).
    private func prefetchNextPage(in chunk: ChunkContext) throws {
        guard connection == nil, !exhausted else { return }
        if pager != nil {
            guard checkedNulls, let after = try rowKeyHandedOutLast() else { return }
            dropPrefetched()
            let connection = try chunk.postgresConnection()
            prefetchedKeyed = (connection.prefetch(pager!.pageQuery(after: after), prepared: true), after, connection)
            return
        }
        guard let lastKey = try keyHandedOutLast(), lastKey < Int64.max else { return }
        dropPrefetched()
        let connection = try chunk.postgresConnection()
        let lower = lastKey + 1
        prefetched = (connection.prefetch(pageQuery(from: lower), prepared: true), lower, connection)
    }

    private func dropPrefetched() {
        if let prefetched { prefetched.connection.cancel(prefetched.query) }
        if let prefetchedKeyed { prefetchedKeyed.connection.cancel(prefetchedKeyed.query) }
        prefetched = nil
        prefetchedKeyed = nil
    }

    /// The query of the page starting at key `lower`.
    private func pageQuery(from lower: Int64) -> PostgresQuery {
        var bindings = conditionBindings
        bindings.append(lower)
        if let keys { bindings.append(keys.upperBound) }
        return PostgresQuery(unsafeSQL: sql, bindings: bindings)
    }

    /// Replaces the used-up page with the next one; false when there are no more rows.
    private func fetchPage(in chunk: ChunkContext) throws -> Bool {
        if exhausted { return false }
        if pager != nil { return try fetchKeyedPage(in: chunk) }
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
        let connection = try self.connection ?? chunk.postgresConnection()
        let result: PostgresResult
        if let prefetched, prefetched.lower == lower, prefetched.connection === connection {
            self.prefetched = nil
            result = try connection.result(of: prefetched.query)
        } else {
            dropPrefetched()
            result = try connection.query(pageQuery(from: lower), prepared: true)
        }
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

    // MARK: Keys of any kind

    private func openKeyed(_ context: ExecutionContext, _ pager: KeysetPager) throws {
        lastRowKey = nil
        checkedNulls = false
        for (what, bound) in [("lower", pager.range?.lower), ("upper", pager.range?.upper)] {
            if let bound, bound.count > pager.keyNames.count || bound.count == 0 {
                throw ItemStreamError(
                    code: .badCheckpoint, stream: name,
                    message: "the range's \(what) bound \(bound) has \(bound.count) values, but the key has "
                        + "\(pager.keyNames.count) columns (\(pager.keyNames.joined(separator: ", "))): give at most one value per key column")
            }
        }
        guard let saved = context[lastKeyKey] else { return }
        guard let key = RowKey(json: saved), key.count == pager.keyNames.count else {
            throw ItemStreamError(
                code: .badCheckpoint, stream: name,
                message: "the saved context holds \(lastKeyKey) = \(saved), not a key of the \(pager.keyNames.count) columns "
                    + "\(pager.keyNames.joined(separator: ", ")): expected \(RowKey.jsonFormHelp)")
        }
        lastRowKey = key
    }

    private func fetchKeyedPage(in chunk: ChunkContext) throws -> Bool {
        lastRowKey = try rowKeyHandedOutLast()
        page = nil
        position = 0
        let connection = try self.connection ?? chunk.postgresConnection()
        if !checkedNulls {
            try pager!.checkNoNullKeys(connection)
            checkedNulls = true
        }
        let next: (PostgresResult, start: Int, last: Bool)?
        if let prefetchedKeyed, let lastRowKey, prefetchedKeyed.after == lastRowKey, prefetchedKeyed.connection === connection {
            self.prefetchedKeyed = nil
            next = try pager!.page(after: lastRowKey, from: connection.result(of: prefetchedKeyed.query))
        } else {
            dropPrefetched()
            next = try pager!.page(after: lastRowKey, connection)
        }
        guard let (result, start, last) = next else {
            exhausted = true
            return false
        }
        exhausted = last
        page = result
        position = start
        return true
    }

    private func rowKeyHandedOutLast() throws -> RowKey? {
        guard let page, position > 0 else { return lastRowKey }
        return try pager!.key(of: page[position - 1])
    }
}
