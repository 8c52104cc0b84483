import Batch
import Foundation
import PostgresClient

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
    /// chunk commit renews the partition's own. At least a second.
    public var lease: Duration
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
        connectionString: String?, concurrency: Int = 2, steps: [String]? = nil, lease: Duration = .seconds(30),
        pollInterval: Duration = .seconds(2), workerID: String? = nil, synchronousCommit: Bool = false
    ) {
        self.connectionString = connectionString
        self.concurrency = concurrency
        self.steps = steps
        self.lease = lease
        self.pollInterval = pollInterval
        self.workerID = workerID ?? Self.defaultID()
        self.synchronousCommit = synchronousCommit
    }

    /// The lease in seconds, as the repository's statements take it.
    public var leaseSeconds: Double { lease.inSeconds }

    /// How often the worker renews its claims and marks itself alive: three times a lease.
    public var heartbeatInterval: Duration { lease / 3 }

    /// How long the server lets a worker's session sit idle inside a transaction before it
    /// ends the session, releasing its row locks (a paused or cut-off worker): two leases.
    public var idleInTransactionTimeout: Duration { lease * 2 }

    /// How the worker's connections notice a database gone silent: within a lease, so a slot
    /// blocked on a dead peer fails before its claim could be taken over for long.
    public var deadPeerDetection: DeadPeerDetection { DeadPeerDetection(timeout: lease) }

    /// The longest worker id the repository stores (`batch_worker.worker_id`).
    public static let maxWorkerIDLength = 200

    /// Throws ``WorkerError`` when a value is out of range.
    public func validate() throws {
        guard !workerID.isEmpty, workerID.utf8.count <= Self.maxWorkerIDLength else {
            throw WorkerError(message: "a worker id must have 1 to \(Self.maxWorkerIDLength) bytes, not \(workerID.utf8.count)")
        }
        guard concurrency >= 1 else {
            throw WorkerError(message: "a worker's concurrency must be at least 1, not \(concurrency)")
        }
        guard lease >= .seconds(1) else {
            throw WorkerError(message: "a worker's lease must be at least 1 second, not \(lease)")
        }
        guard pollInterval > .zero else {
            throw WorkerError(message: "a worker's poll interval must be positive, not \(pollInterval)")
        }
    }

    /// `host:pid:random`, unique across restarts of the same process id; a host name too long
    /// for the repository's column is cut, so the id always fits.
    public static func defaultID() -> String {
        let host = String(ProcessInfo.processInfo.hostName.utf8.prefix(160)) ?? "host"
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        return "\(host):\(getpid()):\(suffix)"
    }
}
