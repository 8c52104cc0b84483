import Batch
import PostgresClient

/// The PostgreSQL job repository's transaction for one chunk or tasklet call.
///
/// Readers and writers of the repository's database use `connection`: what they write commits
/// together with the chunk's checkpoint and counts, or not at all.
public final class PostgresStepTransaction: StepTransaction {
    /// The connection, inside an open transaction. Do not COMMIT or ROLLBACK it yourself.
    public let connection: PostgresConnection

    public init(connection: PostgresConnection) {
        self.connection = connection
    }
}

extension ChunkContext {
    /// The chunk's PostgreSQL connection, when the job repository is PostgreSQL.
    ///
    /// - Throws: when the step runs on another kind of repository.
    public func postgresConnection() throws -> PostgresConnection {
        guard let transaction = transaction as? PostgresStepTransaction else {
            throw PostgresError(
                kind: .usage,
                message: "this reader or writer needs the PostgreSQL job repository's transaction")
        }
        return transaction.connection
    }
}
