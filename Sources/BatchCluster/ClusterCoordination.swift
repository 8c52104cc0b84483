import Batch
import BatchPostgres

/// What gives a PostgreSQL repository's partitioned and remote chunk steps their coordinator:
/// the cluster tables, through the session that runs the manager step.
///
/// A repository made with `PostgresJobRepository(connectionString:synchronousCommit:)`
/// has it; one made with `coordination: nil` runs every other kind of step, and a partitioned
/// step fails at once, saying so.
public struct ClusterCoordination: PostgresCoordination {
    public init() {}

    public func partitionCoordinator(for session: PostgresJobRepositorySession) -> any PartitionCoordinator {
        session
    }

    public func remoteChunkChannel(for session: PostgresJobRepositorySession) -> any RemoteChunkChannel {
        session
    }
}

extension PostgresJobRepository {
    /// The job repository in PostgreSQL, its partitioned and remote chunk steps coordinated
    /// across processes by the cluster tables (``ClusterCoordination``).
    ///
    /// - Parameters:
    ///   - connectionString: conninfo or URL; nil uses libpq's `PG*` variables.
    ///   - synchronousCommit: whether every commit waits for its WAL flush (see
    ///     `PostgresJobRepository.synchronousCommit`).
    public init(connectionString: String?, synchronousCommit: Bool = false) {
        self.init(connectionString: connectionString, synchronousCommit: synchronousCommit, coordination: ClusterCoordination())
    }
}
