import Batch
import PostgresClient

/// Reads the rows of any query through a server-side cursor; restartable by skipping the rows
/// already read, like Spring Batch's `JdbcCursorItemReader`.
///
/// The cursor is `NO SCROLL CURSOR WITH HOLD`, so it outlives the transaction that declared it
/// and serves every chunk: PostgreSQL keeps the whole result on the server (computing it when
/// the declaring transaction commits, spilling to disk when large). Reads fetch `fetchSize`
/// rows at a time. On a restart the rows already read are skipped on the server (`MOVE`), not
/// sent.
///
/// Two ways to give it a connection:
///
/// - ``init(query:fetchSize:name:map:)`` reads through **the step's own connection**, the one
///   each chunk's ``Batch/ChunkContext/postgresConnection()`` returns: nothing to open or close.
///   The cursor is declared at the first read, in whatever state the chunk's connection is then
///   (inside the chunk's transaction, in which case its result is computed when that chunk
///   commits, or before the transaction began, in which case at once), and lives on that
///   connection across chunks. If the connection changes between chunks (the step's session
///   reconnected), the reader declares the cursor again there and moves past the rows it
///   handed out. If the chunk that declared it rolls back, the cursor goes with it, and the
///   next read fails with an `ItemStreamError` (`badCheckpoint`) saying so; the restart resumes
///   from the last commit. ``close()`` closes the cursor.
/// - ``init(connection:query:fetchSize:name:map:)`` reads through a connection of the caller's,
///   for another database: ``open(_:)`` declares the cursor in a short transaction of its own
///   and commits it, so no transaction stays open while the step runs. The caller opens and
///   closes that connection.
///
/// Context key (prefixed by ``name``): `.read_count`, the rows handed out so far.
///
/// - Important: the query must have an `ORDER BY` on something unique, or a restart skips
///   "the first n rows" of a different order and loses or repeats rows. Rows added or removed
///   before the saved position between runs shift it the same way; prefer
///   ``PostgresKeysetReader`` (which also reads any query, by key) when the input can change.
public final class PostgresCursorReader<Item>: ItemReader {
    /// The prefix of the reader's context keys.
    public let name: String
    /// The most rows fetched at once.
    public let fetchSize: Int

    /// The caller's connection; nil reads through the step's.
    private let ownConnection: PostgresConnection?
    private let query: PostgresQuery
    private let map: (PostgresRow) throws -> Item
    private let cursor: String
    private let readCountKey: String

    private var isOpen = false
    /// The connection the cursor is declared on, nil while it is not.
    private var declaredOn: PostgresConnection?
    private var page: PostgresResult?
    private var position = 0
    private var exhausted = false
    /// Rows handed out, counting those skipped on a restart.
    private var readCount: Int64 = 0

    /// Creates a reader through a connection of the caller's; the cursor is declared by
    /// ``open(_:)``.
    ///
    /// - Parameters:
    ///   - connection: A connection for this reader alone, not in a transaction and not the
    ///     chunk's (the reader commits its own DECLARE). The caller opens and closes it.
    ///   - query: A `SELECT` with a stable `ORDER BY`; its values are bound.
    ///   - fetchSize: Rows fetched per round trip.
    ///   - name: The prefix of the context keys and of the cursor's name; unique within the
    ///     step and the connection.
    ///   - map: Turns a row into an item.
    public init(
        connection: PostgresConnection, query: PostgresQuery, fetchSize: Int = 1000,
        name: String = "cursorReader", map: @escaping (PostgresRow) throws -> Item
    ) {
        precondition(fetchSize > 0, "the fetch size must be positive")
        self.ownConnection = connection
        self.query = query
        self.fetchSize = fetchSize
        self.name = name
        self.map = map
        self.cursor = PostgresQuery.quoteIdentifier("swiftbatch." + name)
        self.readCountKey = name + ".read_count"
    }

    /// Creates a reader through the step's own connection (the job repository's database); the
    /// cursor is declared by the first ``read(in:)``.
    ///
    /// - Parameters:
    ///   - query: A `SELECT` with a stable `ORDER BY`; its values are bound.
    ///   - fetchSize: Rows fetched per round trip.
    ///   - name: The prefix of the context keys and of the cursor's name; unique within the step.
    ///   - map: Turns a row into an item.
    public init(
        query: PostgresQuery, fetchSize: Int = 1000, name: String = "cursorReader",
        map: @escaping (PostgresRow) throws -> Item
    ) {
        precondition(fetchSize > 0, "the fetch size must be positive")
        self.ownConnection = nil
        self.query = query
        self.fetchSize = fetchSize
        self.name = name
        self.map = map
        self.cursor = PostgresQuery.quoteIdentifier("swiftbatch." + name)
        self.readCountKey = name + ".read_count"
    }

    /// Takes the saved position; through the caller's connection, declares the cursor and moves
    /// it past the rows already read.
    ///
    /// - Throws: `ItemStreamError` when the saved count is not a count, or the query now has
    ///   fewer rows than were read; `PostgresError` from the server.
    public func open(_ context: ExecutionContext) throws {
        try close()
        var skip: Int64 = 0
        if let saved = context[readCountKey] {
            guard case .int(let count) = saved, count >= 0 else {
                throw ItemStreamError(
                    code: .badCheckpoint, stream: name,
                    message: "the saved context holds \(readCountKey) = \(saved), not a row count")
            }
            skip = count
        }
        readCount = skip
        isOpen = true
        if let ownConnection {
            try Self.refuseTransactionPooling(ownConnection)
            let declare = PostgresQuery(
                unsafeSQL: "DECLARE \(cursor) NO SCROLL CURSOR WITH HOLD FOR " + query.sql, bindings: query.bindings)
            try ownConnection.withTransaction { try $0.execute(declare) }
            declaredOn = ownConnection
            try move(past: skip, on: ownConnection)
        }
    }

    /// Returns the next row's item, fetching more when the last batch is used up; nil at the end.
    public func read(in chunk: ChunkContext) throws -> Item? {
        if page == nil || position == page!.count {
            guard isOpen else {
                throw ItemStreamError(code: .notOpen, stream: name, message: "read called before open")
            }
            if exhausted { return nil }
            let connection = try ownConnection ?? chunk.postgresConnection()
            if declaredOn !== connection { try declare(on: connection) }
            let result: PostgresResult
            do {
                result = try connection.query(PostgresQuery(unsafeSQL: "FETCH FORWARD \(fetchSize) FROM \(cursor)"))
            } catch let error as PostgresError where error.sqlState == "34000" {
                declaredOn = nil
                throw ItemStreamError(
                    code: .badCheckpoint, stream: name,
                    message: "the cursor is gone (the chunk that declared it rolled back, or its connection was reset): "
                        + "the step fails here, and its restart resumes after the last committed chunk")
            }
            exhausted = result.count < fetchSize
            page = result
            position = 0
            if result.isEmpty { return nil }
        }
        let row = page![position]
        position += 1
        readCount += 1
        return try map(row)
    }

    /// Saves the number of rows handed out.
    public func update(_ context: inout ExecutionContext) throws {
        guard isOpen else {
            throw ItemStreamError(code: .notOpen, stream: name, message: "update called before open")
        }
        context[readCountKey] = .int(readCount)
    }

    /// Closes the cursor (the connection stays open).
    public func close() throws {
        page = nil
        position = 0
        exhausted = false
        isOpen = false
        guard let connection = declaredOn else { return }
        declaredOn = nil
        guard connection.isConnected else { return }
        if ownConnection != nil {
            try connection.execute(PostgresQuery(unsafeSQL: "CLOSE \(cursor)"))
        } else {
            // The step's connection may have lost the cursor with a rolled-back chunk; only one
            // that is still there is closed (an error here would abort the step's transaction).
            try closeIfDeclared(on: connection)
        }
    }

    /// Declares the cursor on the step's connection (dropping one of the same name left there by
    /// an earlier run of the step) and moves it past the rows already handed out.
    private func declare(on connection: PostgresConnection) throws {
        try Self.refuseTransactionPooling(connection)
        try closeIfDeclared(on: connection)
        try connection.execute(PostgresQuery(
            unsafeSQL: "DECLARE \(cursor) NO SCROLL CURSOR WITH HOLD FOR " + query.sql, bindings: query.bindings))
        declaredOn = connection
        try move(past: readCount, on: connection)
    }

    /// A cursor held past its transaction lives in a server session: a transaction-mode pooler
    /// would hand the next chunk another one.
    private static func refuseTransactionPooling(_ connection: PostgresConnection) throws {
        guard connection.pooling == .transaction else { return }
        throw PostgresError(
            kind: .usage,
            message: "PostgresCursorReader holds a cursor across transactions, which needs a server session of its own; "
                + "a transaction-mode pooler (--pooler transaction) does not give one: read with PostgresKeysetReader "
                + "(its pages are single statements), or connect the reader's own connection to the server directly")
    }

    private func closeIfDeclared(on connection: PostgresConnection) throws {
        let found = try connection.query("SELECT 1 FROM pg_cursors WHERE name = \("swiftbatch." + name)")
        if !found.isEmpty { try connection.execute(PostgresQuery(unsafeSQL: "CLOSE \(cursor)")) }
    }

    /// Moves the cursor past `skip` rows.
    ///
    /// - Throws: `ItemStreamError` when the query has fewer rows than that now.
    private func move(past skip: Int64, on connection: PostgresConnection) throws {
        var moved: Int64 = 0
        while moved < skip {
            // MOVE takes a 32-bit count.
            let step = min(skip - moved, Int64(Int32.max))
            let count = try connection.execute(PostgresQuery(unsafeSQL: "MOVE FORWARD \(step) IN \(cursor)"))
            moved += Int64(count)
            if count < step { break }
        }
        guard moved == skip else {
            throw ItemStreamError(
                code: .badCheckpoint, stream: name,
                message: "the query now returns \(moved) rows, but the last run had read \(skip); "
                    + "its input changed, so restart it from a new job instance")
        }
    }
}
