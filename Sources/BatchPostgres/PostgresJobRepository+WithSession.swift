import Batch
import PostgresClient
import Synchronization

extension PostgresJobRepository {
    /// Runs `body` with a session of its own, on a dedicated thread, and closes the session after.
    ///
    /// The way for async code to use the repository: libpq blocks, and here it blocks a thread
    /// started for this call, never Swift's cooperative pool. The session is opened as
    /// ``openPostgresSession()`` opens one (schema checked, ``synchronousCommit`` applied) and
    /// closed when `body` returns or throws; run several statements in one `body` to use one
    /// connection for them.
    ///
    /// Cancelling the calling task cancels the statement running at that moment (`body` then
    /// sees the server's error), or, while the session opens, makes the call throw
    /// `CancellationError` before `body` runs.
    ///
    /// - Important: do not let the session or its connection escape `body`: it is closed, and it
    ///   belongs to the thread `body` runs on.
    /// - Throws: what ``openPostgresSession()`` throws (`PostgresError` of kind
    ///   `connectionFailed`, ``SchemaError``), `CancellationError`, or what `body` threw.
    public func withSession<Result: Sendable>(
        _ body: @escaping @Sendable (PostgresJobRepositorySession) throws -> Result
    ) async throws -> Result {
        let thread = DedicatedThread(name: "repository")
        defer { thread.shutdown() }
        let running = RunningStatement()
        return try await withTaskCancellationHandler {
            try await thread.run {
                let session = try openPostgresSession()
                defer {
                    running.end()
                    session.close()
                }
                try running.begin(on: session.connection)
                return try body(session)
            }
        } onCancel: {
            running.cancel()
        }
    }
}

/// The connection a ``PostgresJobRepository/withSession(_:)`` body uses, so that a cancellation,
/// which arrives on another thread, can cancel what it runs.
private final class RunningStatement: Sendable {
    private let state = Mutex<(connection: PostgresConnection?, cancelled: Bool)>((nil, false))

    /// Records the connection; throws `CancellationError` if the task was cancelled before.
    func begin(on connection: PostgresConnection) throws {
        try state.withLock { state in
            guard !state.cancelled else { throw CancellationError() }
            state.connection = connection
        }
    }

    /// Forgets the connection, before it is closed.
    func end() {
        state.withLock { $0.connection = nil }
    }

    /// Cancels the running statement, if any; a later ``begin(on:)`` throws.
    func cancel() {
        state.withLock { state in
            state.cancelled = true
            state.connection?.requestCancel()
        }
    }
}
