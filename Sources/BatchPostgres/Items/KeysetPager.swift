import Batch
import PostgresClient

/// The pages of a keyset reader over a key of any kind and any number of columns: each page
/// one prepared query ordered by the key columns, starting where the last page ended, with
/// PostgreSQL's row comparison so that a composite key pages through its index:
///
///     SELECT ... WHERE (<condition>) AND ("day", "name") >= ($1, $2) [AND ("day") < ($3)]
///     ORDER BY "day", "name" LIMIT <pageSize + 1>
///
/// A page after the first starts *at* the last key handed out (`>=`), whose row is skipped: a
/// second row with that key, on either side of the page boundary, is then seen and refused, so
/// a key that is not unique fails the step instead of losing rows silently.
struct KeysetPager {
    enum Source {
        /// A table: the select list already has the key columns, at these positions.
        case table(select: String, fromWhere: String, keyColumns: [Int])
        /// Any query, wrapped: `SELECT * FROM (<query>) AS keyset_source WHERE `.
        case query(selectFromWhere: String)
    }

    let source: Source
    /// The key columns' names, as the result names them.
    let keyNames: [String]
    let quotedKeys: [String]
    let pageSize: Int
    let range: KeyRange?
    /// The values the condition or query binds; the key's bounds come after them.
    let baseBindings: PostgresBindings
    /// The reader's name, for errors.
    let stream: String
    /// Whether to look for NULL keys once per run.
    let checkNulls: Bool
    /// The table read, quoted and qualified, when the source is one: only its nullable key
    /// columns are then checked for NULL.
    let table: String?

    /// The key columns' positions in the result, once known.
    private(set) var keyColumns: [Int]?
    private var sqlCache: [String: String] = [:]

    init(
        source: Source, table: String?, keys: [String], range: KeyRange?, pageSize: Int, bindings: PostgresBindings,
        stream: String, checkNulls: Bool
    ) {
        self.source = source
        self.table = table
        self.keyNames = keys
        self.quotedKeys = keys.map(PostgresQuery.quoteIdentifier)
        self.range = range
        self.pageSize = pageSize
        self.baseBindings = bindings
        self.stream = stream
        self.checkNulls = checkNulls
        if case .table(_, _, let columns) = source { keyColumns = columns }
    }

    /// Refuses an input with a NULL key, which row comparison would silently leave out: one
    /// query per run, over the key columns that may hold NULL (none for a table whose key
    /// columns are NOT NULL, as a primary key's are).
    func checkNoNullKeys(_ connection: PostgresConnection) throws {
        guard checkNulls else { return }
        var nullable = keyNames
        if let table {
            var names = PostgresBindings()
            names.append(table)
            let placeholders = keyNames.indices.map { "$\($0 + 2)" }.joined(separator: ", ")
            for key in keyNames { names.append(key) }
            // The key columns a table (not a view) declares NOT NULL need no check.
            let notNull = try connection.query(PostgresQuery(
                unsafeSQL: "SELECT a.attname::text FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                    + "WHERE a.attrelid = to_regclass($1) AND c.relkind IN ('r', 'p') AND a.attnum > 0 "
                    + "AND a.attnotnull AND a.attname IN (\(placeholders))",
                bindings: names)).map { try $0.decode(String.self, column: 0) }
            nullable.removeAll { notNull.contains($0) }
        }
        guard !nullable.isEmpty else { return }
        var sql: String
        switch source {
        case .table(_, let fromWhere, _): sql = "SELECT 1" + fromWhere
        case .query(let selectFromWhere): sql = selectFromWhere
        }
        sql += "(" + nullable.map { PostgresQuery.quoteIdentifier($0) + " IS NULL" }.joined(separator: " OR ") + ") LIMIT 1"
        let found = try explainingMissingColumn { try connection.query(PostgresQuery(unsafeSQL: sql, bindings: baseBindings)) }
        guard found.isEmpty else {
            throw ItemStreamError(
                code: .badKey, stream: stream,
                message: "rows to read have NULL in key column \(nullable.joined(separator: " or ")): a key orders every row, "
                    + "so it cannot be NULL; make the column NOT NULL, or filter such rows out with the reader's condition")
        }
    }

    /// The page after `lastKey` (or the first one): the rows, where the unread ones start, and
    /// whether it is the last page. Nil when no row is left.
    mutating func page(after lastKey: RowKey?, _ connection: PostgresConnection) throws -> (PostgresResult, start: Int, last: Bool)? {
        let query = pageQuery(after: lastKey)
        let result = try explainingMissingColumn { try connection.query(query, prepared: true) }
        return try page(after: lastKey, from: result)
    }

    /// The query of the page after `lastKey` (prepared once per shape).
    mutating func pageQuery(after lastKey: RowKey?) -> PostgresQuery {
        var bindings = baseBindings
        var predicates: [String] = []
        var parameter = baseBindings.count + 1
        func bound(_ key: RowKey, _ op: String) {
            let columns = quotedKeys.prefix(key.count).joined(separator: ", ")
            let placeholders = (0..<key.count).map { "$\(parameter + $0)" }.joined(separator: ", ")
            parameter += key.count
            predicates.append("(\(columns)) \(op) (\(placeholders))")
            bindings.append(key)
        }
        if let lastKey {
            bound(lastKey, ">=")
        } else if let lower = range?.lower {
            bound(lower, ">=")
        }
        if let upper = range?.upper { bound(upper, "<") }
        let limit = lastKey == nil ? pageSize : pageSize + 1
        let shape = predicates.joined(separator: " AND ") + " LIMIT \(limit)"
        let sql: String
        if let cached = sqlCache[shape] {
            sql = cached
        } else {
            let head: String
            switch source {
            case .table(let select, let fromWhere, _): head = select + fromWhere
            case .query(let selectFromWhere): head = selectFromWhere
            }
            sql = head + (predicates.isEmpty ? "TRUE" : predicates.joined(separator: " AND "))
                + " ORDER BY " + quotedKeys.joined(separator: ", ") + " LIMIT \(limit)"
            sqlCache[shape] = sql
        }
        return PostgresQuery(unsafeSQL: sql, bindings: bindings)
    }

    /// The page after `lastKey` in `result`, the rows of ``pageQuery(after:)``: where its new
    /// rows start and whether it is the last page; nil when it has no new row.
    mutating func page(after lastKey: RowKey?, from result: PostgresResult) throws -> (PostgresResult, start: Int, last: Bool)? {
        if keyColumns == nil, !result.isEmpty { keyColumns = try locateKeys(in: result) }
        let limit = lastKey == nil ? pageSize : pageSize + 1
        let isLast = result.count < limit
        // Every key of the page, checked: no NULL, no key twice (row comparison orders them).
        var previous = lastKey
        var start = 0
        for index in 0..<result.count {
            let key = try self.key(of: result[index])
            if key == previous {
                if index == 0 {
                    start = 1  // the row handed out last, read again to see what follows it
                    continue
                }
                throw ItemStreamError(
                    code: .badKey, stream: stream,
                    message: "two rows have the key \(key): a keyset reader's key must be unique, or rows sharing "
                        + "a key across a page boundary would be lost; add a unique column (the primary key) as the last key column")
            }
            previous = key
        }
        guard start < result.count else { return nil }
        return (result, start, isLast)
    }

    /// The key of a row of a page.
    func key(of row: PostgresRow) throws -> RowKey {
        try RowKey(row, columns: keyColumns!, stream: stream)
    }

    /// Turns "column does not exist" into an error naming the key columns and the source.
    private func explainingMissingColumn<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PostgresError where error.sqlState == .undefinedColumn {
            let source = table.map { "table \($0)" } ?? "the query"
            throw ItemStreamError(
                code: .badKey, stream: stream,
                message: "key columns \(quotedKeys.joined(separator: ", ")) are not all columns of \(source): \(error.message); "
                    + "name them exactly as the \(table == nil ? "query's result" : "table") names them (case matters)")
        }
    }

    private func locateKeys(in result: PostgresResult) throws -> [Int] {
        let names = (0..<result.columnCount).map(result.columnName)
        return try keyNames.map { key in
            guard let index = names.firstIndex(of: key) else {
                throw ItemStreamError(
                    code: .badKey, stream: stream,
                    message: "the query has no column named \"\(key)\" (it has \(names.joined(separator: ", "))): "
                        + "name key columns exactly as the query's result names them")
            }
            return index
        }
    }
}
