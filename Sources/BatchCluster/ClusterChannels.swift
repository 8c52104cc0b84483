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
