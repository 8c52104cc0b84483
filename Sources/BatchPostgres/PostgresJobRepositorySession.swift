import Batch
import Foundation
import PostgresClient

/// One connection's worth of job repository. Used by one thread at a time.
///
/// A session holds no mode: a step that runs under a claim (a worker's partition) saves through
/// ``update(_:guardedBy:)`` and ``inChunkTransaction(_:guardedBy:_:)`` with the claim's
/// ``StepCommitGuard``, which the cluster module writes.
public final class PostgresJobRepositorySession: JobRepositorySession {
    /// The session's connection, for callers that need more than the repository protocol.
    public let connection: PostgresConnection
    /// What gives this session's partitioned and remote chunk steps their coordinator; nil
    /// when the repository was opened without (see ``PostgresJobRepository/coordination``).
    public let coordination: (any PostgresCoordination)?

    /// Whether this session's commits return before their WAL flush (see
    /// ``PostgresJobRepository/synchronousCommit``); the job execution's updates always wait.
    public private(set) var commitsAsynchronously = false

    /// How many streaming standbys must have flushed a job's end before it is reported (see
    /// `PostgresJobRepositorySession+StandbyConfirmation.swift`): those streaming from the
    /// server when the job started, or when this session last reconnected.
    var standbysToConfirm = 0

    public init(connection: PostgresConnection, coordination: (any PostgresCoordination)? = nil) {
        self.connection = connection
        self.coordination = coordination
    }

    /// From now on this session's commits do not wait for their WAL flush, except the job
    /// execution's updates, which flush everything before them, and the writes a manager goes on
    /// relying on after a reconnect (its partitions, the remote chunks it adopts).
    /// Through a transaction-mode pooler (``PostgresClient/PostgresPooling``), where a session
    /// setting would not stay, it goes with each transaction as `SET LOCAL` (queued after BEGIN,
    /// no round trip of its own); a statement outside a transaction then waits for its flush.
    public func commitAsynchronously() throws {
        if connection.pooling == .session {
            try connection.execute("SET synchronous_commit = off")
        } else {
            connection.transactionSettings.append("SET LOCAL synchronous_commit = off")
        }
        commitsAsynchronously = true
    }

    /// Inside a transaction of this session: its commit waits for the WAL flush, whatever the
    /// session's setting. For what the process relies on being there after a database crash
    /// and a reconnect, or reports as ended.
    package func commitDurably(_ db: PostgresConnection) throws {
        // Queued: it goes out with the transaction's next statement.
        if commitsAsynchronously { try db.queue("SET LOCAL synchronous_commit = on", prepared: true) }
    }

    public func close() {
        connection.close()
    }

    /// A session on a new connection with the same parameters (the schema was checked when this
    /// one was opened), the same coordination and the same commit setting.
    public func openSiblingSession() throws -> PostgresJobRepositorySession {
        let sibling = PostgresJobRepositorySession(connection: try connection.openAnother(), coordination: coordination)
        if commitsAsynchronously {
            do {
                try sibling.commitAsynchronously()
            } catch {
                sibling.close()
                throw error
            }
        }
        return sibling
    }

    public func openSibling() throws -> any JobRepositorySession {
        try openSiblingSession()
    }

    public var partitionCoordinator: (any PartitionCoordinator)? {
        coordination?.partitionCoordinator(for: self)
    }

    public var remoteChunkChannel: (any RemoteChunkChannel)? {
        coordination?.remoteChunkChannel(for: self)
    }
}

/// Gives a PostgreSQL session's partitioned and remote chunk steps what coordinates them
/// across processes. The cluster module provides it (`ClusterCoordination`); a repository
/// opened without one runs every other kind of step.
public protocol PostgresCoordination: Sendable {
    /// The manager side of partitioned steps, on `session`'s connection.
    func partitionCoordinator(for session: PostgresJobRepositorySession) -> any PartitionCoordinator
    /// The manager side of remote chunk steps, on `session`'s connection.
    func remoteChunkChannel(for session: PostgresJobRepositorySession) -> any RemoteChunkChannel
}
