import Foundation

/// How a worker daemon runs.
public struct WorkerConfiguration: Sendable {
    /// conninfo or URL of the job repository; nil uses libpq's `PG*` variables.
    public var connectionString: String?
    /// Partitions or remote chunks run at once (one thread and one connection each).
    public var concurrency: Int
    /// The partitioned and remote chunk steps served, as `job` or `job/step`; nil serves every
    /// such step of the jobs the executable has.
    public var steps: [String]?
    /// How long a claim lasts without renewal; heartbeats renew it every third of it, and every
    /// chunk commit renews the partition's own.
    public var leaseSeconds: Double
    /// The longest wait for new work without a notification.
    public var pollInterval: Duration
    /// This worker's name in the repository.
    public var workerID: String
    /// Whether each commit of a partition or remote chunk waits for its WAL to reach disk.
    ///
    /// Off by default: a commit returns once written to the server's WAL buffers, and the
    /// server flushes it within a few hundred milliseconds. Nothing the protocol relies on is
    /// weakened. A server crash can lose only the last commits, never one without those before it
    /// (the WAL is one sequence), so it rolls the repository back to an earlier, consistent point:
    /// the lost partitions are claimed again when their lease ends and resume from their last
    /// durable checkpoint, with the output written through their chunks lost alongside. The
    /// job's end commits synchronously, which flushes the WAL up to itself: everything the job
    /// counted is then durable. On, each partition's end and each chunk commit waits for an
    /// fsync: a worker of short partitions then spends most of its time waiting.
    public var synchronousCommit: Bool

    public init(
        connectionString: String?, concurrency: Int = 2, steps: [String]? = nil, leaseSeconds: Double = 30,
        pollInterval: Duration = .seconds(2), workerID: String? = nil, synchronousCommit: Bool = false
    ) {
        self.connectionString = connectionString
        self.concurrency = concurrency
        self.steps = steps
        self.leaseSeconds = leaseSeconds
        self.pollInterval = pollInterval
        self.workerID = workerID ?? Self.defaultID()
        self.synchronousCommit = synchronousCommit
    }

    /// `host:pid:random`, unique across restarts of the same process id.
    public static func defaultID() -> String {
        let host = ProcessInfo.processInfo.hostName
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        return "\(host):\(getpid()):\(suffix)"
    }
}
