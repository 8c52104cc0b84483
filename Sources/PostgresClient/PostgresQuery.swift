/// A SQL statement and its bound parameters, safe by construction.
///
/// Interpolated values never become SQL text: each one appends a `$n` placeholder and is sent
/// separately as a bound parameter.
///
///     let query: PostgresQuery = "SELECT name FROM t WHERE id = \(id) AND kind = \(kind)"
///
/// Identifiers that come from configuration (a table name) are quoted with
/// `\(identifier: name)`. Text that must be spliced in as it is goes through
/// `\(unsafeRaw: text)`, a name meant to be noticed in review.
public struct PostgresQuery: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    public var sql: String
    public var bindings: PostgresBindings

    /// A statement whose `$n` placeholders are already written into `sql`.
    ///
    /// - Important: `sql` is sent as it is. Never build it from user input; bind values instead.
    public init(unsafeSQL sql: String, bindings: PostgresBindings = PostgresBindings()) {
        self.sql = sql
        self.bindings = bindings
    }

    public init(stringLiteral value: String) {
        self.sql = value
        self.bindings = PostgresBindings()
    }

    public init(stringInterpolation: StringInterpolation) {
        self.sql = stringInterpolation.sql
        self.bindings = stringInterpolation.bindings
    }

    public var description: String { sql }

    public struct StringInterpolation: StringInterpolationProtocol {
        var sql: String
        var bindings: PostgresBindings

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql = ""
            sql.reserveCapacity(literalCapacity + interpolationCount * 3)
            bindings = PostgresBindings(capacity: interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) {
            sql += literal
        }

        /// Binds `value` as the next parameter.
        public mutating func appendInterpolation<Value: PostgresEncodable>(_ value: Value) {
            bindings.append(value)
            sql += "$\(bindings.count)"
        }

        /// Binds `value`, or SQL NULL when it is nil.
        public mutating func appendInterpolation<Value: PostgresEncodable>(_ value: Value?) {
            bindings.append(value)
            sql += "$\(bindings.count)"
        }

        /// Appends a quoted SQL identifier (a table, column or channel name).
        public mutating func appendInterpolation(identifier: String) {
            sql += PostgresQuery.quoteIdentifier(identifier)
        }

        /// Appends text to the SQL as it is.
        ///
        /// - Important: only for text the program itself wrote; never for input.
        public mutating func appendInterpolation(unsafeRaw text: String) {
            sql += text
        }
    }

    /// Quotes an identifier the way PostgreSQL reads it back exactly: in double quotes, with
    /// embedded double quotes doubled. (libpq's PQescapeIdentifier does the same for UTF-8.)
    public static func quoteIdentifier(_ identifier: String) -> String {
        var quoted = "\""
        for character in identifier {
            quoted.append(character)
            if character == "\"" { quoted.append("\"") }
        }
        quoted.append("\"")
        return quoted
    }
}

/// Bound parameter values in text format, packed into one buffer.
///
/// Each value is stored NUL-terminated in `storage` so libpq can read it in place; NULLs have
/// no bytes. Building a statement's parameters costs one growing allocation, not one per value.
///
/// A value whose text holds U+0000 cannot be sent this way (libpq would cut it at the NUL, and
/// PostgreSQL's text types cannot store the character anyway): the first such value is
/// remembered, and the connection refuses the statement with an error naming the parameter
/// (``validate(sql:)``) instead of storing a shortened value.
public struct PostgresBindings: Sendable {
    @usableFromInline var storage: [UInt8] = []
    /// Offset of each value in `storage`, or -1 for NULL.
    @usableFromInline var offsets: [Int] = []
    @usableFromInline var types: [UInt32] = []
    /// The first value holding a NUL byte: its index and the byte's offset within its text.
    @usableFromInline var firstNUL: (parameter: Int, byte: Int)?

    public init() {}

    public init(capacity: Int) {
        offsets.reserveCapacity(capacity)
        types.reserveCapacity(capacity)
    }

    /// The number of bound parameters.
    public var count: Int { offsets.count }

    /// Appends one parameter; its placeholder is `$\(count)` afterwards.
    @inlinable
    public mutating func append<Value: PostgresEncodable>(_ value: Value) {
        let start = storage.count
        offsets.append(start)
        types.append(value.postgresValueType.rawValue)
        value.encodeText(into: &storage)
        if firstNUL == nil, let nul = storage[start...].firstIndex(of: 0) {
            firstNUL = (offsets.count - 1, nul - start)
        }
        storage.append(0)
    }

    /// Appends one parameter, or NULL.
    @inlinable
    public mutating func append<Value: PostgresEncodable>(_ value: Value?) {
        if let value {
            append(value)
        } else {
            offsets.append(-1)
            types.append(Value.postgresType.rawValue)
        }
    }

    /// Appends SQL NULL with no declared type.
    public mutating func appendNull() {
        offsets.append(-1)
        types.append(0)
    }

    /// Throws unless every value can be sent whole: a value holding U+0000 is refused with an
    /// error naming its parameter (`$n`), never sent cut short at the NUL.
    public func validate(sql: String) throws {
        guard let (parameter, byte) = firstNUL else { return }
        throw PostgresError(
            kind: .usage,
            message: "parameter $\(parameter + 1) holds the character U+0000 (NUL) at byte \(byte) of its text, "
                + "which PostgreSQL text cannot store (it would be cut there); remove or replace the "
                + "character (e.g. with U+FFFD) before binding the value, or store the bytes as bytea (PostgresBytes)",
            query: sql)
    }

    /// Calls `body` with the C arrays that `PQexecParams` expects.
    func withCArrays<Result>(
        _ body: (
            _ types: UnsafePointer<UInt32>?, _ values: UnsafePointer<UnsafePointer<CChar>?>?
        ) throws -> Result
    ) rethrows -> Result {
        if offsets.isEmpty { return try body(nil, nil) }
        return try storage.withUnsafeBufferPointer { bytes in
            try bytes.withMemoryRebound(to: CChar.self) { chars in
                let base = chars.baseAddress
                let pointers = offsets.map { offset -> UnsafePointer<CChar>? in
                    offset < 0 ? nil : base.map { UnsafePointer($0 + offset) }
                }
                return try types.withUnsafeBufferPointer { typeBuffer in
                    try pointers.withUnsafeBufferPointer { pointerBuffer in
                        try body(typeBuffer.baseAddress, pointerBuffer.baseAddress)
                    }
                }
            }
        }
    }
}
