import CLibPQ

extension PostgresConnection {
    /// Bulk-loads rows with `COPY ... FROM STDIN` in text format, the fastest way in.
    ///
    ///     try connection.copyFrom("COPY t (id, name) FROM STDIN") { writer in
    ///         for item in items { try writer.writeRow(item.id, item.name) }
    ///     }
    ///
    /// Rows are buffered and sent in large pieces. If `body` throws, the COPY is aborted (no row
    /// of it is kept) and the error is rethrown.
    ///
    /// - Returns: the number of rows the server stored.
    @discardableResult
    public func copyFrom(
        _ query: PostgresQuery, _ body: (inout PostgresCopyWriter) throws -> Void
    ) throws -> Int {
        try query.bindings.validate(sql: query.sql)
        let handle = try liveHandle()
        let start: OpaquePointer?
        if !queued.isEmpty, query.bindings.count == 0, queued.allSatisfy({ $0.query.bindings.count == 0 }) {
            // A queued BEGIN goes out with the COPY, in one simple-protocol query.
            start = try startCopy(after: queued, query.sql, on: handle)
        } else {
            try flushQueued()
            start = waitingForServer {
                query.bindings.withCArrays { types, values in
                    PQexecParams(handle, query.sql, Int32(query.bindings.count), types, values, nil, nil, 0)
                }
            }
        }
        guard let start else { throw connectionError(query: query.sql) }
        guard PQresultStatus(start) == PGRES_COPY_IN else {
            let error =
                PQresultStatus(start) == PGRES_FATAL_ERROR
                ? serverError(from: start, query: query.sql)
                : PostgresError(kind: .usage, message: "copyFrom needs a COPY ... FROM STDIN statement", query: query.sql)
            PQclear(start)
            // Until libpq has read the server's ReadyForQuery, it refuses the next statement
            // sent asynchronously (a ROLLBACK in a pipeline, say) as "another command is
            // already in progress".
            _ = drainResults(handle)
            throw error
        }
        PQclear(start)

        var writer = PostgresCopyWriter(connection: self, handle: handle)
        do {
            try body(&writer)
            try writer.flush()
        } catch {
            _ = PQputCopyEnd(handle, "aborted by the client")
            _ = drainResults(handle)
            throw error
        }
        guard PQputCopyEnd(handle, nil) == 1 else { throw connectionError(query: query.sql) }
        // The end's result, error or not, and then the rest, before anything is thrown.
        let end = waitingForServer { PQgetResult(handle) }
        _ = drainResults(handle)
        return try checked(end, query: query.sql).affectedRows
    }

    /// Sends `statements` and the COPY as one simple-protocol query (one round trip) and returns
    /// the COPY's first result; throws the first statement's error if one fails.
    private func startCopy(after statements: [PipelinedStatement], _ copy: String, on handle: OpaquePointer) throws -> OpaquePointer? {
        queued.removeAll()
        let text = (statements.map(\.query.sql) + [copy]).joined(separator: "; ")
        guard PQsendQuery(handle, text) == 1 else { throw connectionError(query: copy) }
        for statement in statements {
            let sql = statement.query.sql
            guard let result = waitingForServer({ PQgetResult(handle) }) else { throw connectionError(query: sql) }
            guard PQresultStatus(result) == PGRES_COMMAND_OK else {
                let error = serverError(from: result, query: sql)
                PQclear(result)
                _ = drainResults(handle)
                if statement.opensTransaction { throw PostgresTransactionError(phase: .begin, underlying: error) }
                throw error
            }
            PQclear(result)
        }
        return waitingForServer { PQgetResult(handle) }
    }

    /// Reads and frees results until libpq has none left, so the session can take the next
    /// statement. Returns the first error found, if any.
    func drainResults(_ handle: OpaquePointer) -> PostgresError? {
        var firstError: PostgresError?
        while let result = PQgetResult(handle) {
            if firstError == nil, PQresultStatus(result) == PGRES_FATAL_ERROR {
                firstError = serverError(from: result, query: nil)
            }
            PQclear(result)
        }
        return firstError
    }
}

/// Writes rows of a running `COPY ... FROM STDIN` in PostgreSQL's text format.
///
/// Fields are escaped as COPY expects (backslash, tab, newline, carriage return); NULL is `\N`.
/// Data is sent to the server whenever the buffer passes 256 KiB.
///
/// The same writer also builds the rows of a ``PostgresArrayInsert`` (one array literal per
/// column): code that encodes rows serves both.
public struct PostgresCopyWriter {
    private let connection: PostgresConnection?
    private let handle: OpaquePointer?
    private var buffer: [UInt8] = []
    /// For an array insert: each column's array elements so far (no braces); empty for a COPY.
    private(set) var columns: [[UInt8]] = []
    /// For an array insert: a row with more or fewer fields than columns (its number, and
    /// how many fields it had).
    private var badRow: (row: Int, fields: Int)?
    private var fieldsInRow = 0
    /// The first field of the current row whose text holds U+0000 (1-based), refused at
    /// ``endRow()``: COPY's text format and PostgreSQL's text types cannot carry it.
    private var fieldWithNUL: Int?
    /// Rows written so far.
    public private(set) var rowCount = 0

    private static let flushThreshold = 256 * 1024

    init(connection: PostgresConnection, handle: OpaquePointer) {
        self.connection = connection
        self.handle = handle
        buffer.reserveCapacity(Self.flushThreshold + 4096)
    }

    /// A writer that collects rows as array elements, one array per column.
    init(arrayColumns count: Int, rowCapacity: Int) {
        connection = nil
        handle = nil
        columns = Array(repeating: [], count: count)
        for index in columns.indices { columns[index].reserveCapacity(rowCapacity * 12) }
    }

    /// Appends one field to the current row.
    public mutating func appendField<Value: PostgresEncodable>(_ value: Value) {
        if !columns.isEmpty { return appendElement(value) }
        separate()
        let start = buffer.count
        value.encodeText(into: &buffer)
        escape(from: start)
    }

    /// Appends one field, or NULL.
    public mutating func appendField<Value: PostgresEncodable>(_ value: Value?) {
        if let value {
            appendField(value)
        } else {
            appendNull()
        }
    }

    /// Appends a NULL field to the current row.
    public mutating func appendNull() {
        if !columns.isEmpty {
            guard let column = nextColumn() else { return }
            columns[column].append(contentsOf: [UInt8(ascii: "N"), UInt8(ascii: "U"), UInt8(ascii: "L"), UInt8(ascii: "L")])
            return
        }
        separate()
        buffer.append(UInt8(ascii: "\\"))
        buffer.append(UInt8(ascii: "N"))
    }

    /// Ends the current row, sending the buffer when it is full.
    ///
    /// - Throws: a ``PostgresError`` (`.usage`) when a field of the row holds U+0000, which
    ///   PostgreSQL text cannot store; the COPY is then aborted by ``PostgresConnection/copyFrom(_:_:)``.
    public mutating func endRow() throws {
        if let field = fieldWithNUL {
            throw PostgresError(
                kind: .usage,
                message: "field \(field) of row \(rowCount + 1) holds the character U+0000 (NUL), which "
                    + "PostgreSQL text cannot store; remove or replace the character (e.g. with U+FFFD) before "
                    + "writing the row, or store the bytes as bytea (PostgresBytes)")
        }
        if !columns.isEmpty {
            if badRow == nil, fieldsInRow != columns.count { badRow = (rowCount + 1, fieldsInRow) }
            if let badRow {
                throw PostgresError(
                    kind: .usage,
                    message: "row \(badRow.row) has \(badRow.fields) fields, but the insert has \(columns.count) columns; "
                        + "append one field per column")
            }
            fieldsInRow = 0
            rowCount += 1
            return
        }
        buffer.append(UInt8(ascii: "\n"))
        fieldsInRow = 0
        rowCount += 1
        if buffer.count >= Self.flushThreshold { try flush() }
    }

    /// Writes a whole row of non-NULL fields.
    public mutating func writeRow<each Value: PostgresEncodable>(_ values: repeat each Value) throws {
        for value in repeat each values {
            appendField(value)
        }
        try endRow()
    }

    /// Sends what is buffered.
    mutating func flush() throws {
        guard !buffer.isEmpty, let handle, let connection else { return }
        let status = buffer.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                PQputCopyData(handle, chars.baseAddress, Int32(chars.count))
            }
        }
        guard status == 1 else { throw connection.connectionError(query: nil) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// The column the next field of the row goes to, and the separator before it; nil (noted
    /// for ``endRow()``) when the row already has a field for every column.
    private mutating func nextColumn() -> Int? {
        let column = fieldsInRow
        fieldsInRow += 1
        guard column < columns.count else {
            if badRow == nil { badRow = (rowCount + 1, fieldsInRow) }
            return nil
        }
        if rowCount > 0 { columns[column].append(UInt8(ascii: ",")) }
        return column
    }

    /// Appends a field as a quoted array element: backslash and double quote escaped.
    private mutating func appendElement<Value: PostgresEncodable>(_ value: Value) {
        guard let column = nextColumn() else { return }
        columns[column].append(UInt8(ascii: "\""))
        let start = columns[column].count
        value.encodeText(into: &columns[column])
        var needsEscape = false
        for index in start..<columns[column].count {
            let byte = columns[column][index]
            if byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "\"") {
                needsEscape = true
            } else if byte == 0, fieldWithNUL == nil {
                fieldWithNUL = fieldsInRow
            }
        }
        if needsEscape {
            let raw = Array(columns[column][start...])
            columns[column].removeSubrange(start...)
            for byte in raw {
                if byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "\"") { columns[column].append(UInt8(ascii: "\\")) }
                columns[column].append(byte)
            }
        }
        columns[column].append(UInt8(ascii: "\""))
    }

    private mutating func separate() {
        if fieldsInRow > 0 { buffer.append(UInt8(ascii: "\t")) }
        fieldsInRow += 1
    }

    /// Escapes the bytes appended since `start`, in place; most fields need nothing.
    private mutating func escape(from start: Int) {
        var needsEscape = false
        for index in start..<buffer.count {
            let byte = buffer[index]
            if byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n")
                || byte == UInt8(ascii: "\r")
            {
                needsEscape = true
            } else if byte == 0, fieldWithNUL == nil {
                fieldWithNUL = fieldsInRow
            }
        }
        guard needsEscape else { return }
        let raw = Array(buffer[start...])
        buffer.removeSubrange(start...)
        for byte in raw {
            switch byte {
            case UInt8(ascii: "\\"): buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "\t"): buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case UInt8(ascii: "\n"): buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            default: buffer.append(byte)
            }
        }
    }
}
