import Logging

/// Where a partitioned step's partitions stand, from the manager's one progress query.
public struct PartitionProgress: Sendable, Equatable {
    public var total = 0
    public var completed = 0
    public var failed = 0
    public var stopped = 0
    /// Claimed by a worker right now.
    public var running = 0
    /// Names of the failed partitions (for the step's exit message).
    public var failedNames: [String] = []
    /// Workers whose heartbeat is fresh and that serve this step.
    public var liveWorkers = 0
    /// The partitions' step counts summed, when the read that found them all finished summed
    /// them too (saves the manager step one more read at its end); nil otherwise.
    public var counts: StepCounts?

    public init() {}

    public var finished: Int { completed + failed + stopped }
    public var isFinished: Bool { finished == total }
}

/// The repository side of partitioned steps: writing partitions, awaiting them, summing them.
/// The PostgreSQL repository implements it with the cluster tables.
public protocol PartitionCoordinator: AnyObject {
    /// Makes the manager step's partitions ready for workers, in one transaction, and wakes the
    /// workers. `partitions` hands each partition to its argument in turn, and they are written
    /// in batches as they come, so the manager holds one batch at a time however many there are.
    /// On a restart of the instance it reuses the last attempt's partitions instead of calling
    /// `partitions`: COMPLETED ones are kept, the others become ready again from their saved
    /// context.
    ///
    /// - Returns: the number of partitions.
    func preparePartitions(
        manager: StepExecution, jobExecution: JobExecution, workerStep: String, maxAttempts: Int,
        partitions: (_ each: (Partition) throws -> Void) throws -> Void
    ) throws -> Int

    /// Waits until every partition is COMPLETED, FAILED or STOPPED (or `timeout` passes),
    /// calling `progress` whenever the picture changes and at least every `reportEvery`.
    /// A lost connection is reconnected (the database may restart meanwhile, or fail over to a
    /// standby), logged to `logger`. Every count is of rows that exist when it is read, never
    /// derived from one taken before a reconnect.
    ///
    /// - Parameter expected: how many partitions ``preparePartitions(manager:jobExecution:workerStep:maxAttempts:partitions:)``
    ///   returned. Fewer found later means the repository lost them (a failover to a standby
    ///   that had not received them).
    /// - Throws: ``PartitionsLost`` when the partitions are gone: the caller prepares them again.
    func awaitPartitions(
        manager: StepExecution, workerStep: String, expected: Int, timeout: Duration?, reportEvery: Duration,
        logger: Logger, progress: (PartitionProgress) -> Void
    ) throws -> PartitionProgress

    /// The counts of the manager's partitions, summed.
    func partitionCounts(manager: StepExecution) throws -> StepCounts
}

extension PartitionCoordinator {
    /// ``preparePartitions(manager:jobExecution:workerStep:maxAttempts:partitions:)`` from a
    /// list made up front.
    public func preparePartitions(
        manager: StepExecution, jobExecution: JobExecution, workerStep: String, maxAttempts: Int,
        partitioner: () throws -> [Partition]
    ) throws -> Int {
        try preparePartitions(manager: manager, jobExecution: jobExecution, workerStep: workerStep, maxAttempts: maxAttempts) { each in
            for partition in try partitioner() { try each(partition) }
        }
    }
}

extension JobRepositorySession {
    /// None, unless the repository says otherwise: partitions need a repository that workers
    /// in other processes share.
    public var partitionCoordinator: (any PartitionCoordinator)? { nil }
}

/// The manager's partitions vanished from the repository while it awaited them: it reconnected
/// to a database (a promoted asynchronous standby) that never received the transaction that
/// wrote them, nor, since the WAL is one sequence, anything committed after it. Their work is
/// therefore lost with them, and preparing them again neither loses nor duplicates anything.
public struct PartitionsLost: Error, CustomStringConvertible {
    public var step: String
    public var expected: Int
    public var found: Int

    public init(step: String, expected: Int, found: Int) {
        self.step = step
        self.expected = expected
        self.found = found
    }

    public var description: String {
        "step \(step): \(expected - found) of its \(expected) partitions are no longer in the job repository (it failed over to a standby that had not received them?)"
    }
}

/// A partitioned step did not finish in the time it was given.
public struct PartitionTimeout: Error, CustomStringConvertible {
    public var step: String
    public var progress: PartitionProgress

    public init(step: String, progress: PartitionProgress) {
        self.step = step
        self.progress = progress
    }

    public var description: String {
        "step \(step) timed out with \(progress.finished) of \(progress.total) partitions finished"
    }
}
