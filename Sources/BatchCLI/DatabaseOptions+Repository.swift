import ArgumentParser
import BatchCluster
import BatchPostgres
import PostgresClient

extension DatabaseOptions {
    /// The job repository the options name, as the commands other than `launch` use it: it sets
    /// no `synchronous_commit`, so their commits wait for the WAL flush as the server says (on
    /// by default), and a stop, an abandon, a recover or a prune reported done survives a crash.
    var repository: PostgresJobRepository {
        PostgresJobRepository(connectionString: resolvedURL, synchronousCommit: true)
    }

    /// Runs `body` with a repository session (schema checked) off the cooperative pool, see
    /// ``PostgresJobRepository/withSession(_:)``, and turns failing to open it into the command's
    /// messages and exit codes: a malformed URL is a usage error, an unreachable database or a
    /// schema this binary cannot use is `unavailable`. What `body` throws goes through unchanged.
    func withRepositorySession<Result: Sendable>(
        _ body: @escaping @Sendable (PostgresJobRepositorySession) throws -> Result
    ) async throws -> Result {
        try checkURL()
        do {
            return try await repository.withSession(body)
        } catch let error as SchemaError {
            throw CommandFailure(error.message, exitCode: ExitCodes.unavailable)
        } catch let error as PostgresError where error.kind == .connectionFailed {
            // Only opening a connection fails this way: `body` is given an open one.
            throw cannotConnect(error)
        }
    }
}
