import BatchPostgres
import PostgresClient

/// The LISTEN/NOTIFY channels of the cluster protocol. A notice only wakes a process sooner:
/// every waiter also polls, so a lost notice (a pooler, a reconnect) costs latency, never work.
/// The sweep functions of migration 13 notify `partitionDone` and `remoteChunkDone` by name too.
public enum ClusterChannels {
    /// Workers listen for new work: partitions prepared or handed back, remote chunks sent.
    public static let work = "swiftbatch_work"
    /// Managers listen for partitions that ended.
    public static let partitionDone = "swiftbatch_partition_done"
    /// Managers listen for remote chunks that ended (DONE or FAILED).
    public static let remoteChunkDone = "swiftbatch_remote_chunk_done"
}

extension PostgresJobRepositorySession {
    /// LISTENs to `channel`, except through a transaction-mode pooler, which keeps no
    /// subscription: the waiter then polls (more often; see its wait).
    func listenUnlessPooled(_ channel: String) throws {
        guard connection.pooling == .session else { return }
        try connection.listen(channel)
    }

    /// How long a waiter waits for a notice before it polls: `listening` when notices come,
    /// at most `polling` through a transaction-mode pooler, where none does.
    func noticeWait(_ listening: Duration, polling: Duration = .milliseconds(50)) -> Duration {
        connection.pooling == .session ? listening : min(listening, polling)
    }
}
