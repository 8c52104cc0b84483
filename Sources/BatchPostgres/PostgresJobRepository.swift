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

    public init(connectionString: String?) {
        self.connectionString = connectionString
    }

    /// Opens a connection and checks the schema is the one this binary needs, so a missing or
    /// older schema is a ``SchemaError`` that says to run `swiftbatch migrate`, never a raw
    /// "relation does not exist".
    public func openSession() throws -> any JobRepositorySession {
        let connection = try PostgresConnection(connectionString: connectionString)
        do {
            try SchemaMigrations.check(on: connection)
        } catch {
            connection.close()
            throw error
        }
        return PostgresJobRepositorySession(connection: connection)
    }
}

/// A repository error that is not the database's: the row a command names is missing, or
/// another process changed it underneath.
public struct JobRepositoryError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

extension PostgresJobRepository {
    public func startHeartbeat(jobExecutionID: Int64, launcher: LauncherIdentity, logger: Logger) throws
        -> any LauncherHeartbeat
    {
        try PostgresLauncherHeartbeat(
            connectionString: connectionString, jobExecutionID: jobExecutionID, launcher: launcher, logger: logger)
    }
}
