import Batch
import Logging
import PostgresClient

/// The job repository in PostgreSQL: Spring Batch 5's tables plus SwiftBatch's rules
/// (see `sql/migrations`).
///
/// Each session is one connection, used by the thread that runs a job or a step.
public struct PostgresJobRepository: JobRepository {
    /// conninfo or URL; nil uses libpq's `PG*` variables.
    public let connectionString: String?
    /// Whether every commit of a job's sessions waits for its WAL to reach disk.
    ///
    /// Off by default: chunk and step commits return once written to the server's WAL buffers
    /// (the server flushes them within a few hundred milliseconds), and only the job execution's
    /// own updates (its start and its end) wait, which flushes everything committed before them.
    /// A server crash can lose only the latest commits, never one without those before it, so
    /// the repository goes back to an earlier consistent point: the job then restarts from its
    /// last durable checkpoint, and the output written through the lost chunks is lost with them.
    /// A job reported COMPLETED or FAILED is on disk with everything it counted.
    public var synchronousCommit: Bool
    /// What coordinates partitioned and remote chunk steps across processes. Without it those
    /// steps fail at once; every other step runs.
    public var coordination: (any PostgresCoordination)?
    /// How the job's connections notice a database gone silent (see `DeadPeerDetection`);
    /// a launcher sets it to its lease, so a blocked launch fails before its execution could
    /// be taken over.
    public var deadPeerDetection: DeadPeerDetection = .standard

    /// A repository whose partitioned and remote chunk steps are coordinated by `coordination`.
    ///
    /// The cluster module's `PostgresJobRepository(connectionString:synchronousCommit:)` passes
    /// its `ClusterCoordination`: use that one unless you bring a coordination of your own (or
    /// nil, to refuse those steps).
    public init(connectionString: String?, synchronousCommit: Bool = false, coordination: (any PostgresCoordination)?) {
        self.connectionString = connectionString
        self.synchronousCommit = synchronousCommit
        self.coordination = coordination
    }

    /// Opens a connection and checks the schema is the one this binary needs, so a missing or
    /// older schema is a ``SchemaError`` that says to run `swiftbatch migrate`, never a raw
    /// "relation does not exist". The same as ``openPostgresSession()``.
    public func openSession() throws -> any JobRepositorySession {
        try openPostgresSession()
    }

    /// Opens a session on a new connection, on the calling thread, with the schema checked and
    /// ``synchronousCommit`` applied.
    ///
    /// Every libpq call blocks the thread that makes it: call this from a thread of your own (a
    /// job's, a monitor's), never from async code, which has ``withSession(_:)``. The session is
    /// used by one thread at a time; close it when done.
    ///
    /// - Throws: `PostgresError` of kind `connectionFailed` when the database cannot be
    ///   reached; ``SchemaError`` when its schema is missing or of another version.
    @available(*, noasync, message: "libpq blocks the thread: use withSession(_:), which runs on a thread of its own")
    public func openPostgresSession() throws -> PostgresJobRepositorySession {
        let connection = try PostgresConnection(connectionString: connectionString, deadPeerDetection: deadPeerDetection)
        let session = PostgresJobRepositorySession(connection: connection, coordination: coordination)
        do {
            try SchemaMigrations.check(on: connection)
            if !synchronousCommit { try session.commitAsynchronously() }
            // Through a transaction-mode pooler no session setting would stay (see
            // PostgresPooling): the pooler's idle_transaction_timeout bounds a launcher cut off
            // inside a transaction.
            guard connection.pooling == .session else { return session }
            // A launcher cut off inside a transaction would keep its rows locked (a launch that
            // attaches waits for them) while the server has nothing to send it: the server ends
            // such a session after twice the dead-peer bound.
            let idle = Int64((deadPeerDetection.timeout * 2).inSeconds * 1000)
            try connection.execute("SELECT set_config('idle_in_transaction_session_timeout', \(String(idle)), false)")
        } catch {
            connection.close()
            throw error
        }
        return session
    }
}

/// A repository error that is not the database's: the row a command names is missing, or
/// another process changed it underneath.
public struct JobRepositoryError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }

    public init(message: String) {
        self.message = message
    }
}

extension PostgresJobRepository {
    public func startHeartbeat(jobExecutionID: Int64, launcher: LauncherIdentity, logger: Logger) throws
        -> any LauncherHeartbeat
    {
        try PostgresLauncherHeartbeat(
            connectionString: connectionString, jobExecutionID: jobExecutionID, launcher: launcher, logger: logger)
    }
}
