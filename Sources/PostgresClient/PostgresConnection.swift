import CLibPQ
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One PostgreSQL session over libpq. Every call blocks the calling thread until the server
/// answers.
///
/// - Important: libpq blocks, so never call a connection from Swift's cooperative thread pool
///   (a task's code). Use it from a thread of your own, or through ``PostgresSession``, which
///   owns a dedicated thread and runs every call there.
///
/// The connection string may be a libpq conninfo (`host=db user=batch dbname=jobs`), a URL
/// (`postgres://batch@db:5432/jobs?sslmode=require`), or nil to use libpq's own `PG*`
/// environment variables. Each session runs with `DateStyle=ISO` and `TimeZone=UTC` so
/// timestamps decode exactly.
public final class PostgresConnection: @unchecked Sendable {
    // Sendable rule: a connection is used by one thread at a time (a PostgresSession's thread, or
    // the single thread its creator runs it on). Only `requestCancel()` may be called from another
    // thread; it touches the PGcancel object alone, under `cancelLock`.
    private var handle: OpaquePointer?
    private let connectionString: String?
    /// How this connection notices a server that went silent.
    public let deadPeerDetection: DeadPeerDetection
    /// Whether the connection has a server session of its own or shares them through a
    /// transaction-mode pooler (see ``PostgresPooling``).
    public let pooling: PostgresPooling
    private var preparedStatements: [String: String] = [:]
    /// Statements that go out in the same round trip as the next one (a transaction's BEGIN);
    /// see PostgresConnection+Pipeline.swift.
    var queued: [PipelinedStatement] = []
    /// Whether the next statement is followed by COMMIT in the same round trip.
    var commitsAfterNextStatement = false
    /// `SET LOCAL` statements queued after every BEGIN: the session settings of a connection
    /// that cannot keep session state (a transaction-mode pooler), applied per transaction at
    /// no round trip of their own.
    public var transactionSettings: [String] = []
    /// Queries sent ahead of need, after the next pipeline that ends outside a transaction; see
    /// PostgresConnection+Prefetch.swift.
    var pendingPrefetches: [PrefetchedQuery] = []
    /// The shortest round trip (nanoseconds) of the current window of calls, of the window
    /// before it, and how many calls the current window has seen: see ``fastestRoundTrip``.
    private var fastestInWindow: UInt64 = .max
    private var fastestInLastWindow: UInt64 = .max
    private var callsInWindow = 0
    private static let roundTripWindow = 32
    private let cancelLock = Mutex<CancelHandle>(CancelHandle())
    /// When the call in progress began (monotonic nanoseconds), or 0 between calls.
    private let callStartedAt = Atomic<UInt64>(0)

    /// Opens a session.
    ///
    /// - Parameters:
    ///   - connectionString: a conninfo string or `postgres://` URL; nil or empty uses libpq's
    ///     `PG*` environment variables (and its defaults: local socket, user = login).
    ///   - deadPeerDetection: how long a silent server is waited for before a call fails
    ///     (see ``DeadPeerDetection``).
    ///   - pooling: `.transaction` behind a transaction-mode pooler such as PgBouncer's (see
    ///     ``PostgresPooling``); nil takes the process's ``PostgresPooling/default``.
    /// - Throws: ``PostgresError`` of kind `.connectionFailed`, whose text never contains the
    ///   password.
    public init(
        connectionString: String? = nil, deadPeerDetection: DeadPeerDetection = .standard, pooling: PostgresPooling? = nil
    ) throws {
        self.connectionString = connectionString
        self.deadPeerDetection = deadPeerDetection
        self.pooling = pooling ?? .default
        try open()
    }

    deinit {
        cancelLock.withLock { cancel in
            if let pointer = cancel.pointer { PQfreeCancel(pointer) }
            cancel.pointer = nil
        }
        if let handle { PQfinish(handle) }
    }

    /// Closes the session. Later calls fail with `.connectionLost` until ``reconnect()``.
    public func close() {
        cancelLock.withLock { cancel in
            if let pointer = cancel.pointer { PQfreeCancel(pointer) }
            cancel.pointer = nil
            cancel.socket = -1
        }
        if let handle { PQfinish(handle) }
        handle = nil
        preparedStatements.removeAll()
        queued.removeAll()
        commitsAfterNextStatement = false
        dropPrefetches()
        fastestInWindow = .max
        fastestInLastWindow = .max
        callsInWindow = 0
    }

    /// True while libpq believes the session is usable. A dead server is only noticed on the
    /// next call, so a true here is a hint, not a promise.
    public var isConnected: Bool {
        guard let handle else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// Opens another session with the same parameters, for another thread.
    public func openAnother() throws -> PostgresConnection {
        try PostgresConnection(connectionString: connectionString, deadPeerDetection: deadPeerDetection, pooling: pooling)
    }

    /// Drops the session, if any, and opens a fresh one with the same parameters. Prepared
    /// statements are forgotten and prepared again on use.
    public func reconnect() throws {
        close()
        try open()
    }

    /// The server's version as an integer, e.g. 150018 for 15.18.
    public var serverVersion: Int {
        handle.map { Int(PQserverVersion($0)) } ?? 0
    }

    /// The process id of the server backend serving this session (for `pg_terminate_backend`).
    public var backendPID: Int32 {
        handle.map { PQbackendPID($0) } ?? 0
    }

    /// Asks the server to cancel whatever this session is running. Safe from any thread.
    public func requestCancel() {
        cancelLock.withLock { cancel in
            guard let pointer = cancel.pointer else { return }
            var errorBuffer = [CChar](repeating: 0, count: 256)
            _ = PQcancel(pointer, &errorBuffer, Int32(errorBuffer.count))
        }
    }

    /// Breaks the session off at once: shuts its socket down, so a call blocked on it (from any
    /// thread) returns a `.connectionLost` error now, and every later call fails the same way
    /// until ``reconnect()``. Nothing more reaches the server; what it was running is rolled
    /// back when it notices. Safe from any thread: for a watchdog that learned the work the
    /// call does is no longer wanted (its lease is gone).
    public func abort() {
        cancelLock.withLock { cancel in
            if cancel.socket >= 0 { _ = shutdown(cancel.socket, Int32(SHUT_RDWR)) }
        }
    }

    /// How long the call in progress has been waiting for the server, or nil between calls.
    /// Safe from any thread.
    public var currentCallDuration: Duration? {
        let started = callStartedAt.load(ordering: .relaxed)
        guard started != 0 else { return nil }
        let now = Self.monotonicNanoseconds()
        return .nanoseconds(Int64(now > started ? now - started : 0))
    }

    /// Runs `body`, a call that waits for the server, marked as in progress for
    /// ``currentCallDuration``.
    /// - Parameter roundTrip: whether `body` is one whole round trip (a request sent and its
    ///   answer awaited), to be counted in ``fastestRoundTrip``; results already buffered, or
    ///   rows streamed one by one, are not.
    func waitingForServer<Result>(roundTrip: Bool = false, _ body: () throws -> Result) rethrows -> Result {
        let started = Self.monotonicNanoseconds()
        callStartedAt.store(started, ordering: .relaxed)
        defer {
            if roundTrip { countRoundTrip(Self.monotonicNanoseconds() - started) }
            callStartedAt.store(0, ordering: .relaxed)
        }
        return try body()
    }

    /// The shortest round trip among this session's recent calls (the last 32 to 64): a
    /// measure of the network's round trip to the server (plus the least work a statement
    /// costs it) that follows a change of path within a few dozen calls; nil before the first
    /// call. Writers use it to choose between a COPY (round trips of its own) and a statement
    /// pipelined with the commit (see `PostgresCopyItemWriter`).
    public var fastestRoundTrip: Duration? {
        let fastest = min(fastestInWindow, fastestInLastWindow)
        return fastest == .max ? nil : .nanoseconds(Int64(fastest))
    }

    /// How many round trips this session has waited for: statements, pipelines, transaction
    /// ends (not the data of a COPY or of a streamed result). For diagnostics and tests.
    public private(set) var roundTrips = 0

    private func countRoundTrip(_ nanoseconds: UInt64) {
        roundTrips += 1
        if callsInWindow == Self.roundTripWindow {
            fastestInLastWindow = fastestInWindow
            fastestInWindow = .max
            callsInWindow = 0
        }
        callsInWindow += 1
        fastestInWindow = min(fastestInWindow, nanoseconds)
    }

    private static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec) + 1
    }

    // MARK: - Statements

    /// Runs one statement and returns its rows.
    ///
    /// - Parameters:
    ///   - query: the statement; interpolated values are bound, never spliced.
    ///   - prepared: prepare the statement once per session and reuse it (for hot paths that
    ///     run the same SQL many times). The Parse goes in the same round trip as the first
    ///     execution, so preparing costs no round trip of its own.
    @discardableResult
    public func query(_ query: PostgresQuery, prepared: Bool = false) throws -> PostgresResult {
        try query.bindings.validate(sql: query.sql)
        // A statement prepared for the first time goes in a pipeline: Parse with its first
        // execution, one round trip instead of two.
        let name = prepared ? statementName(for: query) : nil
        if !queued.isEmpty || commitsAfterNextStatement || !pendingPrefetches.isEmpty || name?.isPrepared == false {
            return try sendWithQueued(PipelinedStatement(query, prepared: prepared))
        }
        let handle = try liveHandle()
        let count = Int32(query.bindings.count)
        let statementName = name?.name
        let result = waitingForServer(roundTrip: true) {
            query.bindings.withCArrays { types, values in
                if let statementName {
                    return PQexecPrepared(handle, statementName, count, values, nil, nil, 0)
                }
                return PQexecParams(handle, query.sql, count, types, values, nil, nil, 0)
            }
        }
        return try checked(result, query: query.sql)
    }

    /// Runs one statement and returns the number of rows it affected.
    @discardableResult
    public func execute(_ query: PostgresQuery, prepared: Bool = false) throws -> Int {
        try self.query(query, prepared: prepared).affectedRows
    }

    /// Runs a script of several statements, as `psql -c` would, with no parameters.
    ///
    /// - Important: the text is sent as it is: only for SQL the program ships (migrations).
    public func unsafeExecuteScript(_ sql: String) throws {
        try flushQueued()
        let handle = try liveHandle()
        // A script returns one result per statement; libpq hands back the last. Errors stop it.
        _ = try checked(waitingForServer { PQexec(handle, sql) }, query: sql)
    }

    /// The name of `query`'s prepared statement if it is prepared on this session already; for
    /// one that is not, the name it gets, and false (it is prepared in the same round trip as
    /// its first use, see PostgresConnection+Pipeline.swift). Nil through a transaction-mode
    /// pooler, where a named statement would not outlive the transaction (the statement is then
    /// parsed on each use, as an unnamed one). `alsoNew`: names handed out for the same round
    /// trip and not yet recorded.
    func statementName(for query: PostgresQuery, alsoNew: [String: String] = [:]) -> (name: String, isPrepared: Bool)? {
        if pooling == .transaction { return nil }
        if let name = preparedStatements[query.sql] { return (name, true) }
        if let name = alsoNew[query.sql] { return (name, false) }
        return ("swiftbatch_\(preparedStatements.count + alsoNew.count + 1)", false)
    }

    /// Records that `sql` is prepared on this session as `name`.
    func recordPrepared(_ sql: String, as name: String) {
        preparedStatements[sql] = name
    }

    // MARK: - Internals shared by the extensions

    func liveHandle() throws -> OpaquePointer {
        guard let handle else {
            throw PostgresError(
                kind: .connectionLost, message: "the connection is closed; reconnect first")
        }
        return handle
    }

    /// Turns a PGresult into a value or an error, freeing it on error.
    func checked(_ result: OpaquePointer?, query: String?) throws -> PostgresResult {
        guard let result else {
            throw connectionError(query: query)
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_SINGLE_TUPLE, PGRES_EMPTY_QUERY:
            return PostgresResult(handle: result)
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            PQclear(result)
            throw PostgresError(
                kind: .usage, message: "COPY statements go through copyFrom(_:_:)", query: query)
        default:
            let error = serverError(from: result, query: query)
            PQclear(result)
            throw error
        }
    }

    /// The error libpq reports for the session itself (no result to read it from).
    func connectionError(query: String?) -> PostgresError {
        let message = handle.map { Self.trimmed(String(cString: PQerrorMessage($0))) }
        let lost = handle.map { PQstatus($0) != CONNECTION_OK } ?? true
        return PostgresError(
            kind: lost ? .connectionLost : .server,
            message: (message?.isEmpty ?? true) ? "no response from the server" : message!,
            query: query)
    }

    func serverError(from result: OpaquePointer, query: String?) -> PostgresError {
        func field(_ code: Int32) -> String? {
            guard let value = PQresultErrorField(result, code) else { return nil }
            return String(cString: value)
        }
        let sqlState = field(CLibPQ_PG_DIAG_SQLSTATE).map(SQLState.init(rawValue:))
        let message =
            field(CLibPQ_PG_DIAG_MESSAGE_PRIMARY)
            ?? Self.trimmed(String(cString: PQresultErrorMessage(result)))
        let lost = handle.map { PQstatus($0) != CONNECTION_OK } ?? true
        return PostgresError(
            kind: lost || sqlState?.isConnectionClass == true ? .connectionLost : .server,
            sqlState: sqlState,
            message: message.isEmpty ? "the server closed the connection" : message,
            detail: field(CLibPQ_PG_DIAG_MESSAGE_DETAIL),
            hint: field(CLibPQ_PG_DIAG_MESSAGE_HINT),
            constraint: field(CLibPQ_PG_DIAG_CONSTRAINT_NAME),
            query: query)
    }

    // MARK: - Opening

    private func open() throws {
        var keys: [String] = ["fallback_application_name", "client_encoding"]
        var values: [String] = ["swiftbatch", "UTF8"]
        if pooling == .transaction { _ = PostgresPooling.startupParameters }
        if Self.environment("PGCONNECT_TIMEOUT") == nil {
            // libpq waits forever by default; a batch process should rather fail and say so.
            keys.append("connect_timeout")
            values.append("10")
        }
        // A silent server fails a call in bounded time (the connection string may say otherwise).
        for (key, value) in deadPeerDetection.parameters {
            keys.append(key)
            values.append(value)
        }
        if let connectionString, !connectionString.isEmpty {
            // "dbname" with expand_dbname=1 takes a whole conninfo or URL and overrides the above.
            keys.append("dbname")
            values.append(connectionString)
        }
        let connection = Self.withCStringArray(keys) { keyPointers in
            Self.withCStringArray(values) { valuePointers in
                PQconnectdbParams(keyPointers, valuePointers, 1)
            }
        }
        guard let connection else {
            throw PostgresError(kind: .connectionFailed, message: "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.trimmed(String(cString: PQerrorMessage(connection)))
            PQfinish(connection)
            throw PostgresError(
                kind: .connectionFailed, sqlState: Self.guessSQLState(connectionMessage: message),
                message: message.isEmpty ? "could not connect" : message,
                hint: "check the database URL (--database-url, DATABASE_URL or PG* variables) and that the server is running")
        }
        handle = connection
        if pooling == .transaction {
            // client_min_messages cannot be set for the session: NOTICEs (a migration's "already
            // exists, skipping") are dropped here instead of being printed; warnings still are.
            PQsetNoticeProcessor(connection, { _, message in
                guard let message, String(cString: message).hasPrefix("WARNING") else { return }
                _ = write(2, message, strlen(message))
            }, nil)
        }
        let cancel = PQgetCancel(connection)
        let socket = PQsocket(connection)
        cancelLock.withLock {
            $0.pointer = cancel
            $0.socket = socket
        }
        do {
            // The server watches this client the same way: a backend whose client went silent
            // (mid-COPY, say, waiting for data that never comes) ends within the same bound,
            // rolling back its transaction and releasing its locks. Ignored over a Unix socket.
            let server = deadPeerDetection.serverSettings
            // Through a transaction-mode pooler a session SET would go to whichever server
            // session runs it, and stay there for other clients: none is sent (the pooler's
            // own keepalives watch the link to its clients).
            guard pooling == .session else { return }
            try unsafeExecuteScript(
                "SET DateStyle = ISO; SET TimeZone = 'UTC'; SET extra_float_digits = 3; SET client_min_messages = WARNING; "
                    + server.map { "SET \($0.key) = \($0.value)" }.joined(separator: "; "))
        } catch {
            close()
            throw error
        }
    }

    /// libpq reports connection failures as text only; recover the codes callers care about.
    private static func guessSQLState(connectionMessage message: String) -> SQLState? {
        if message.contains("password authentication failed") { return .invalidPassword }
        if message.contains("does not exist") && message.contains("database") {
            return .invalidCatalogName
        }
        if message.contains("no password supplied") { return .invalidPassword }
        return nil
    }

    static func trimmed(_ message: String) -> String {
        var text = message
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return text
    }

    private static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }

    private static func withCStringArray<Result>(
        _ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> Result
    ) -> Result {
        let duplicates = strings.map { strdup($0) }
        defer { duplicates.forEach { free($0) } }
        let pointers = duplicates.map { UnsafePointer($0) } + [nil]
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

/// libpq's cancel object. PQcancel is documented as safe to call from any thread; the
/// object is created, used and freed only under the connection's cancel lock.
private struct CancelHandle: @unchecked Sendable {
    var pointer: OpaquePointer?
    /// The session's socket while it is open, -1 after: ``PostgresConnection/abort()`` shuts
    /// it down under the same lock that ``PostgresConnection/close()`` clears it under, so it
    /// never touches a descriptor the process reused for something else.
    var socket: Int32 = -1
}
