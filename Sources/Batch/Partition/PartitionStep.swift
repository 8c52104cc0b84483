import Logging

/// A step spread over partitions: a ``Partitioner`` splits the work, workers (daemons on any
/// host, or local threads) claim and run `workerStep` once per partition, each from its own
/// context and checkpoint, and this manager step only awaits their completion and sums their
/// counts.
///
/// Partition step executions are named `<step>:<partition>`. The step FAILS, naming the failed
/// partitions, when any fails; a restart runs only those (and any that never finished).
public struct PartitionStep: Step {
    public let name: String
    /// What every partition runs; its readers find their range in the step context
    /// (``Partition/keyRange(in:)``).
    public let workerStep: any Step
    public let partitioner: any Partitioner
    public let gridSize: Int
    /// A long job parameter that, when given, replaces `gridSize` (e.g. `grid`).
    public let gridParameter: String?
    /// Claims of one partition before it is FAILED (a worker that dies or loses its lease
    /// counts as one).
    public let maxAttempts: Int
    public let timeout: Duration?
    public let allowStartIfComplete: Bool
    public let listeners: [any StepListener]

    public init(
        _ name: String, gridSize: Int = 8, gridParameter: String? = nil, maxAttempts: Int = 3,
        timeout: Duration? = nil, allowStartIfComplete: Bool = false, listeners: [any StepListener] = [],
        partitioner: any Partitioner, workerStep: any Step
    ) {
        precondition(gridSize > 0 && maxAttempts > 0)
        self.name = name
        self.gridSize = gridSize
        self.gridParameter = gridParameter
        self.maxAttempts = maxAttempts
        self.timeout = timeout
        self.allowStartIfComplete = allowStartIfComplete
        self.listeners = listeners
        self.partitioner = partitioner
        self.workerStep = workerStep
    }

    /// The name workers use for this step: `<job>/<step>` (what `worker --steps` takes).
    public static func workerStepKey(job: String, step: String) -> String { "\(job)/\(step)" }

    public func gridSize(for parameters: JobParameters) throws -> Int {
        guard let gridParameter, let value = parameters.long(gridParameter) else { return gridSize }
        guard value > 0, value <= 100_000 else {
            throw InvalidStepParameter(description: "parameter \(gridParameter) must be between 1 and 100000, not \(value)")
        }
        return Int(value)
    }

    public func validate(_ parameters: JobParameters) throws {
        _ = try gridSize(for: parameters)
        try partitioner.validate(parameters)
        try workerStep.validate(parameters)
    }

    public func run(_ execution: inout StepExecution, in scope: StepScope) throws {
        guard let coordinator = scope.session.partitionCoordinator else {
            throw InvalidStepParameter(description: "step \(name) is partitioned, but the job repository cannot coordinate partitions across processes: use PostgresJobRepository(connectionString:) with BatchCluster imported, as the command line does")
        }
        let grid = try gridSize(for: scope.parameters)
        let key = Self.workerStepKey(job: scope.jobExecution.jobName, step: name)
        var warnedAboutWorkers = false
        var progress = PartitionProgress()
        // A failover to a standby that had not received the partitions loses them with all the
        // work done under them; they are prepared again (twice at most: a third loss is not a
        // failover but a repository that keeps dropping writes).
        for preparation in 1...3 {
            let count = try coordinator.preparePartitions(
                manager: execution, jobExecution: scope.jobExecution, workerStep: key, maxAttempts: maxAttempts
            ) { each in
                // Each partition carries this step's trace, so the workers' spans join it.
                try partitioner.forEachPartition(gridSize: grid, in: scope) { try each($0.traced(in: scope.observation)) }
            }
            scope.logger.info("partitions ready", metadata: ["batch.partition.count": "\(count)", "batch.partition.step": "\(key)"])
            do {
                progress = try coordinator.awaitPartitions(
                    manager: execution, workerStep: key, expected: count, timeout: timeout, reportEvery: .seconds(5),
                    logger: scope.logger
                ) { progress in
                    if progress.liveWorkers == 0 && !progress.isFinished && !warnedAboutWorkers {
                        warnedAboutWorkers = true
                        scope.logger.notice(
                            "no live worker serves this step yet: start one with `\(ApplicationName.current) worker`, or launch with --local-workers N",
                            metadata: ["batch.partition.step": "\(key)"])
                    } else if progress.liveWorkers > 0 {
                        warnedAboutWorkers = false
                    }
                    ClusterGauges.awaited(progress)
                    scope.logger.info(
                        "partitions",
                        metadata: [
                            "batch.partition.done": "\(progress.finished)", "batch.partition.total": "\(progress.total)",
                            "batch.partition.failed": "\(progress.failed)",
                        ])
                }
                break
            } catch let lost as PartitionsLost where preparation < 3 && lost.found == 0 {
                scope.logger.warning("\(lost.description); preparing them again", metadata: ["batch.partition.step": "\(key)"])
            }
        }
        let commits = execution.counts.commit
        execution.counts = try progress.counts ?? coordinator.partitionCounts(manager: execution)
        execution.counts.commit += commits
        if progress.failed > 0 {
            execution.status = .failed
            execution.exitStatus = .failed.adding(
                description: "\(progress.failed) of \(progress.total) partitions failed: \(progress.failedNames.joined(separator: ", "))")
        } else if progress.stopped > 0 {
            execution.status = .stopped
            execution.exitStatus = .stopped.adding(description: "\(progress.stopped) of \(progress.total) partitions stopped")
        } else {
            execution.status = .completed
            execution.exitStatus = .completed
        }
    }
}
