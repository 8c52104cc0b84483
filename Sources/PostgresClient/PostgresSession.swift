/// A PostgreSQL connection for async code: the connection lives on a thread of its own, and
/// every call runs there, so libpq's blocking never reaches Swift's cooperative pool.
///
///     let session = try await PostgresSession.connect(to: url)
///     let count = try await session.run { try $0.query("SELECT count(*) FROM t").single().decode(Int64.self, column: 0) }
///
/// Calls run one after another in submission order, as they would on a single connection.
public final class PostgresSession: Sendable {
    private let thread: DedicatedThread
    private let connection: PostgresConnection

    private init(thread: DedicatedThread, connection: PostgresConnection) {
        self.thread = thread
        self.connection = connection
    }

    /// Opens a connection on a new dedicated thread.
    ///
    /// - Parameters:
    ///   - connectionString: conninfo or `postgres://` URL; nil uses libpq's `PG*` variables.
    ///   - name: the thread's name, for debugging.
    public static func connect(to connectionString: String?, name: String = "postgres")
        async throws -> PostgresSession
    {
        let thread = DedicatedThread(name: name)
        do {
            let connection = try await thread.run {
                try PostgresConnection(connectionString: connectionString)
            }
            return PostgresSession(thread: thread, connection: connection)
        } catch {
            thread.shutdown()
            throw error
        }
    }

    /// Runs `body` with the connection, on the session's thread.
    ///
    /// - Important: do not let the connection escape `body`; it belongs to the session's thread.
    @discardableResult
    public func run<Result: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) throws -> Result
    ) async throws -> Result {
        let connection = self.connection
        return try await withTaskCancellationHandler {
            try await thread.run { try body(connection) }
        } onCancel: {
            // Cancels the statement running now, if any; the task then sees the server's error.
            connection.requestCancel()
        }
    }

    /// Closes the connection and ends the thread.
    public func close() async {
        let connection = self.connection
        _ = try? await thread.run { connection.close() }
        thread.shutdown()
    }
}
