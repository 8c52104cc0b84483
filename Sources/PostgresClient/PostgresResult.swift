import CLibPQ

/// The rows of a completed statement, held by libpq and decoded on access.
///
/// Values are decoded straight from libpq's buffers when a row asks for them; nothing is copied
/// up front.
public final class PostgresResult: @unchecked Sendable {
    // Safe to share: a PGresult is immutable once returned by libpq, and it is freed only in deinit.
    let handle: OpaquePointer

    init(handle: OpaquePointer) {
        self.handle = handle
    }

    deinit {
        PQclear(handle)
    }

    /// The number of rows.
    public var count: Int { Int(PQntuples(handle)) }
    /// The number of columns.
    public var columnCount: Int { Int(PQnfields(handle)) }
    /// The rows a command affected (INSERT, UPDATE, DELETE, COPY), or 0.
    public var affectedRows: Int { Int(String(cString: PQcmdTuples(handle))) ?? 0 }

    /// The command tag's verb and counts, e.g. `INSERT 0 5` or `COMMIT`.
    public var commandStatus: String { String(cString: PQcmdStatus(handle)) }

    /// The name of column `index`.
    public func columnName(_ index: Int) -> String {
        String(cString: PQfname(handle, Int32(index)))
    }

    /// The index of the column named `name`, if there is one.
    public func columnIndex(_ name: String) -> Int? {
        let index = Int(PQfnumber(handle, name))
        return index >= 0 ? index : nil
    }

    public subscript(row: Int) -> PostgresRow {
        precondition(row >= 0 && row < count, "row \(row) out of range 0..<\(count)")
        return PostgresRow(result: self, index: Int32(row))
    }

    /// The only row; throws if there are none or several.
    public func single() throws -> PostgresRow {
        guard count == 1 else {
            throw PostgresError(kind: .usage, message: "expected exactly one row, got \(count)")
        }
        return self[0]
    }

    /// The first row, or nil if there is none.
    public var first: PostgresRow? { count > 0 ? self[0] : nil }
}

extension PostgresResult: RandomAccessCollection {
    public var startIndex: Int { 0 }
    public var endIndex: Int { count }
}

/// One row of a result.
public struct PostgresRow: Sendable {
    let result: PostgresResult
    let index: Int32

    /// The number of columns.
    public var columnCount: Int { result.columnCount }

    /// The cell in column `column`.
    public subscript(column: Int) -> PostgresCell {
        precondition(column >= 0 && column < result.columnCount, "column \(column) out of range")
        return PostgresCell(result: result, row: index, column: Int32(column))
    }

    /// The cell in the column named `name`; throws when there is no such column.
    public func cell(named name: String) throws -> PostgresCell {
        guard let column = result.columnIndex(name) else {
            throw PostgresError(kind: .usage, message: "no column named \"\(name)\" in the result")
        }
        return self[column]
    }

    /// Decodes column `column` as `T`.
    @inlinable
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, column: Int) throws -> T {
        try self[column].decode(T.self)
    }

    /// Decodes the leading columns as a tuple: `let (id, name) = try row.decode((Int64, String).self)`.
    ///
    /// Inlinable so that callers specialize it: unspecialized, every row would look up the
    /// tuple's type metadata at run time (a measurable share of a reader's time).
    @inlinable
    public func decode<each T: PostgresDecodable>(_ types: (repeat each T).Type) throws
        -> (repeat each T)
    {
        var column = 0
        func next<U: PostgresDecodable>(_ type: U.Type) throws -> U {
            defer { column += 1 }
            return try self[column].decode(U.self)
        }
        return (repeat try next((each T).self))
    }
}

// Tuples of 2 to 8 columns, spelled out: Swift does not yet specialize a parameter pack's
// elements, so the variadic `decode` above would look up type metadata for every cell of every
// row. These concrete forms are chosen first and compile down to straight calls.
extension PostgresRow {
    @inlinable
    public func decode<A: PostgresDecodable, B: PostgresDecodable>(_ types: (A, B).Type) throws -> (A, B) {
        (try self[0].decode(A.self), try self[1].decode(B.self))
    }

    @inlinable
    public func decode<A: PostgresDecodable, B: PostgresDecodable, C: PostgresDecodable>(_ types: (A, B, C).Type) throws -> (A, B, C) {
        (try self[0].decode(A.self), try self[1].decode(B.self), try self[2].decode(C.self))
    }

    @inlinable
    public func decode<A: PostgresDecodable, B: PostgresDecodable, C: PostgresDecodable, D: PostgresDecodable>(_ types: (A, B, C, D).Type) throws -> (A, B, C, D) {
        (try self[0].decode(A.self), try self[1].decode(B.self), try self[2].decode(C.self), try self[3].decode(D.self))
    }

    @inlinable
    public func decode<A: PostgresDecodable, B: PostgresDecodable, C: PostgresDecodable, D: PostgresDecodable, E: PostgresDecodable>(_ types: (A, B, C, D, E).Type) throws -> (A, B, C, D, E) {
        (try self[0].decode(A.self), try self[1].decode(B.self), try self[2].decode(C.self), try self[3].decode(D.self), try self[4].decode(E.self))
    }

    @inlinable
    public func decode<A: PostgresDecodable, B: PostgresDecodable, C: PostgresDecodable, D: PostgresDecodable, E: PostgresDecodable, F: PostgresDecodable>(_ types: (A, B, C, D, E, F).Type) throws -> (A, B, C, D, E, F) {
        (try self[0].decode(A.self), try self[1].decode(B.self), try self[2].decode(C.self), try self[3].decode(D.self), try self[4].decode(E.self), try self[5].decode(F.self))
    }

    @inlinable
    public func decode<A: PostgresDecodable, B: PostgresDecodable, C: PostgresDecodable, D: PostgresDecodable, E: PostgresDecodable, F: PostgresDecodable, G: PostgresDecodable>(_ types: (A, B, C, D, E, F, G).Type) throws -> (A, B, C, D, E, F, G) {
        (try self[0].decode(A.self), try self[1].decode(B.self), try self[2].decode(C.self), try self[3].decode(D.self), try self[4].decode(E.self), try self[5].decode(F.self), try self[6].decode(G.self))
    }

    @inlinable
    public func decode<A: PostgresDecodable, B: PostgresDecodable, C: PostgresDecodable, D: PostgresDecodable, E: PostgresDecodable, F: PostgresDecodable, G: PostgresDecodable, H: PostgresDecodable>(_ types: (A, B, C, D, E, F, G, H).Type) throws -> (A, B, C, D, E, F, G, H) {
        (try self[0].decode(A.self), try self[1].decode(B.self), try self[2].decode(C.self), try self[3].decode(D.self), try self[4].decode(E.self), try self[5].decode(F.self), try self[6].decode(G.self), try self[7].decode(H.self))
    }
}

/// One value of a row, undecoded.
public struct PostgresCell: Sendable {
    let result: PostgresResult
    let row: Int32
    let column: Int32

    /// True for SQL NULL.
    public var isNull: Bool { PQgetisnull(result.handle, row, column) == 1 }

    /// The column's type OID.
    public var dataType: PostgresDataType { PostgresDataType(PQftype(result.handle, column)) }

    /// The column's name.
    public var columnName: String { result.columnName(Int(column)) }

    /// The value's text bytes, valid as long as the result lives.
    @usableFromInline var bytes: UnsafeBufferPointer<UInt8> {
        let length = Int(PQgetlength(result.handle, row, column))
        let pointer = PQgetvalue(result.handle, row, column)
        return UnsafeBufferPointer(
            start: UnsafeRawPointer(pointer)?.assumingMemoryBound(to: UInt8.self), count: length)
    }

    /// Decodes the value as `T`; NULL decodes only into an Optional. Inlinable, so the NULL
    /// check and the call into `T` specialize in the caller (no run-time metadata lookups).
    @inlinable
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self) throws -> T {
        if isNull {
            if let nullValue = T.postgresNull { return nullValue }
            throw PostgresError(
                kind: .decoding,
                message: "column \"\(columnName)\" is NULL; decode it as \(T.self)? instead")
        }
        return try T(postgresText: bytes, type: dataType, context: self)
    }

    /// The error for a value that cannot be read as `expected` (e.g. "a calendar date"),
    /// naming the column and quoting the value's start; for ``PostgresDecodable`` types.
    public func decodingError(_ expected: String) -> PostgresError {
        let text = String(decoding: bytes.prefix(64), as: UTF8.self)
        return PostgresError(
            kind: .decoding,
            message: "column \"\(columnName)\": cannot read \"\(text)\" as \(expected)")
    }
}
