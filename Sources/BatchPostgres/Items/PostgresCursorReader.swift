import Batch
import PostgresClient

/// Reads the rows of any query through a server-side cursor on a connection of its own;
/// restartable by skipping the rows already read, like Spring Batch's `JdbcCursorItemReader`.
///
/// ``open(_:)`` declares `NO SCROLL CURSOR WITH HOLD` for the query in a short transaction of
/// its own and commits it, so no transaction stays open while the step runs; PostgreSQL then
/// keeps the whole result on the server (computing it at that commit, spilling to disk when
/// large). Reads fetch `fetchSize` rows at a time. On a restart the rows already read are
/// skipped on the server (`MOVE`), not sent.
///
/// Context key (prefixed by ``name``): `.read_count`, the rows handed out so far.
///
/// - Important: the query must have an `ORDER BY` on something unique, or a restart skips
///   "the first n rows" of a different order and loses or repeats rows. Rows added or removed
///   before the saved position between runs shift it the same way; prefer
///   ``PostgresKeysetReader`` when the input can change.
public final class PostgresCursorReader<Item>: ItemReader {
    /// The prefix of the reader's context keys.
    public let name: String
    /// The most rows fetched at once.
    public let fetchSize: Int

    private let connection: PostgresConnection
    private let query: PostgresQuery
    private let map: (PostgresRow) throws -> Item
    private let cursor: String
    private let readCountKey: String

    private var isDeclared = false
    private var page: PostgresResult?
    private var position = 0
    private var exhausted = false
    /// Rows handed out, counting those skipped on a restart.
    private var readCount: Int64 = 0

    /// Creates a reader; the cursor is declared by ``open(_:)``.
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
        self.connection = connection
        self.query = query
        self.fetchSize = fetchSize
        self.name = name
        self.map = map
        self.cursor = PostgresQuery.quoteIdentifier("swiftbatch." + name)
        self.readCountKey = name + ".read_count"
    }

    /// Declares the cursor and, on a restart, moves it past the rows already read.
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
        let declare = PostgresQuery(
            unsafeSQL: "DECLARE \(cursor) NO SCROLL CURSOR WITH HOLD FOR " + query.sql, bindings: query.bindings)
        try connection.withTransaction { try $0.execute(declare) }
        isDeclared = true
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
        readCount = skip
    }

    /// Returns the next row's item, fetching more when the last batch is used up; nil at the end.
    public func read(in chunk: ChunkContext) throws -> Item? {
        if page == nil || position == page!.count {
            guard isDeclared else {
                throw ItemStreamError(code: .notOpen, stream: name, message: "read called before open")
            }
            if exhausted { return nil }
            let result = try connection.query(PostgresQuery(unsafeSQL: "FETCH FORWARD \(fetchSize) FROM \(cursor)"))
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
        guard isDeclared else {
            throw ItemStreamError(code: .notOpen, stream: name, message: "update called before open")
        }
        context[readCountKey] = .int(readCount)
    }

    /// Closes the cursor (the connection stays open).
    public func close() throws {
        page = nil
        position = 0
        exhausted = false
        guard isDeclared else { return }
        isDeclared = false
        if connection.isConnected {
            try connection.execute(PostgresQuery(unsafeSQL: "CLOSE \(cursor)"))
        }
    }
}
