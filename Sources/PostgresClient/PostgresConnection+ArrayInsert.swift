/// An INSERT of many rows as one statement with one array parameter per column:
///
///     INSERT INTO <table> (<columns>) SELECT * FROM unnest($1::<type>[], $2::<type>[], ...)
///
/// Unlike a COPY, which needs round trips of its own, it can be queued in a transaction
/// (``PostgresConnection/queueInsert(_:_:)``) and travel with the transaction's next statement
/// or its COMMIT: across a network with a long round trip, the cheaper way in. Each element is
/// parsed by its column type's input function, as COPY's text format is, so the rows' values
/// are written exactly as a COPY would write them. Array-typed columns cannot go this way
/// (`unnest` would flatten them).
public struct PostgresArrayInsert: Sendable {
    /// The statement's text.
    public let sql: String
    let columnCount: Int

    /// Builds the statement.
    ///
    /// - Parameters:
    ///   - table: The table written; quoted as an identifier.
    ///   - schema: Its schema, or nil for the search path.
    ///   - columns: The columns written, in the order rows append their fields; quoted.
    ///   - types: Each column's type as SQL (`bigint`, `numeric(12,2)`, `"my enum"`), from
    ///     ``PostgresConnection/columnTypes(of:schema:columns:)``; spliced as given.
    public init(table: String, schema: String? = nil, columns: [String], types: [String]) {
        precondition(!columns.isEmpty && columns.count == types.count, "one type per column, at least one column")
        var sql = "INSERT INTO " + (schema.map { PostgresQuery.quoteIdentifier($0) + "." } ?? "")
        sql += PostgresQuery.quoteIdentifier(table)
        sql += " (" + columns.map(PostgresQuery.quoteIdentifier).joined(separator: ", ") + ") SELECT * FROM unnest("
        sql += types.enumerated().map { "$\($0.offset + 1)::\($0.element)[]" }.joined(separator: ", ") + ")"
        self.sql = sql
        self.columnCount = columns.count
    }
}

/// Why a table's columns cannot be written by a ``PostgresArrayInsert``.
public struct ArrayInsertUnsuitable: Error, CustomStringConvertible {
    public let description: String
}

extension PostgresConnection {
    /// The declared types of a table's columns, as SQL, in the order given: what a
    /// ``PostgresArrayInsert`` needs.
    ///
    /// - Throws: ``PostgresError`` when the table does not exist or a column is missing (naming
    ///   it); ``ArrayInsertUnsuitable`` when a column is itself an array.
    public func columnTypes(of table: String, schema: String? = nil, columns: [String]) throws -> [String] {
        let qualified = (schema.map { PostgresQuery.quoteIdentifier($0) + "." } ?? "") + PostgresQuery.quoteIdentifier(table)
        let result = try query(
            """
            SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typcategory = 'A'
            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            WHERE a.attrelid = \(qualified)::regclass AND a.attnum > 0 AND NOT a.attisdropped
            """)
        var types: [String: (type: String, isArray: Bool)] = [:]
        for row in result {
            let (name, type, isArray) = try row.decode((String, String, Bool).self)
            types[name] = (type, isArray)
        }
        return try columns.map { column in
            guard let found = types[column] else {
                throw PostgresError(
                    kind: .usage,
                    message: "table \(qualified) has no column \"\(column)\"; check the writer's column names",
                    query: nil)
            }
            guard !found.isArray else {
                throw ArrayInsertUnsuitable(
                    description: "column \"\(column)\" of \(qualified) is an array (\(found.type)), which unnest would flatten")
            }
            return found.type
        }
    }

    /// Encodes rows with `body`, as for ``copyFrom(_:_:)``, and queues them as one
    /// ``PostgresArrayInsert`` in the open transaction (see ``queue(_:prepared:)``): they go
    /// out with the transaction's next statement or its COMMIT, and a row the server refuses
    /// fails that statement.
    ///
    /// - Returns: the number of rows queued.
    /// - Throws: ``PostgresError`` (`.usage`) outside a transaction, for a row with a field too
    ///   many or too few, or a field holding U+0000; what `body` throws.
    @discardableResult
    public func queueInsert(
        _ insert: PostgresArrayInsert, rowCapacity: Int = 1000, _ body: (inout PostgresCopyWriter) throws -> Void
    ) throws -> Int {
        var writer = PostgresCopyWriter(arrayColumns: insert.columnCount, rowCapacity: rowCapacity)
        try body(&writer)
        guard writer.rowCount > 0 else { return 0 }
        var bindings = PostgresBindings(capacity: insert.columnCount)
        for column in writer.columns { bindings.appendArrayLiteral(elements: column) }
        try queue(PostgresQuery(unsafeSQL: insert.sql, bindings: bindings), prepared: true)
        return writer.rowCount
    }
}

extension PostgresBindings {
    /// Appends `{<elements>}` as one parameter of unspecified type (the statement casts it).
    mutating func appendArrayLiteral(elements: [UInt8]) {
        offsets.append(storage.count)
        types.append(0)
        storage.append(UInt8(ascii: "{"))
        storage.append(contentsOf: elements)
        storage.append(UInt8(ascii: "}"))
        storage.append(0)
    }
}
