import Logging

/// Where jobs' instances and executions are recorded, so every run can be restarted.
///
/// A repository hands out sessions; each session is a connection used by one thread at a time
/// (the thread running a job or a step). The model never sees SQL: the PostgreSQL repository
/// lives in `BatchPostgres`.
public protocol JobRepository: Sendable {
    /// Opens a session for the calling thread.
    func openSession() throws -> any JobRepositorySession

    /// Starts renewing `launcher`'s lease on a running execution, on a connection and thread of
    /// its own, until the returned heartbeat is stopped.
    func startHeartbeat(jobExecutionID: Int64, launcher: LauncherIdentity, logger: Logger) throws
        -> any LauncherHeartbeat
}

/// What a launch found when it looked at the instance's history.
public enum LaunchRefusal: Error, Sendable, Equatable {
    /// The instance's last execution COMPLETED.
    case alreadyComplete(executionID: Int64)
    /// An execution of the instance is running (STARTING, STARTED or STOPPING) and its launcher
    /// is alive (`launcher`: who it is and when its lease runs out, when known).
    case alreadyRunning(executionID: Int64, launcher: String? = nil)
    /// The instance failed or stopped before, but the job is not restartable.
    case notRestartable(executionID: Int64)
    /// The last execution was abandoned: an operator said it must not be restarted.
    case abandoned(executionID: Int64)
}

/// A connection to the repository, used by one thread at a time.
///
/// - Important: blocking. Call it only from a thread of its own, never from a task's code.
public protocol JobRepositorySession: AnyObject {
    /// Finds or creates the instance for `jobName` and the identifying `parameters`, checks its
    /// history, and creates a new execution in STARTING state recorded as `launcher`'s,
    /// atomically: of several processes launching the same instance at once, exactly one gets an
    /// execution and the others a ``LaunchRefusal`` (`alreadyRunning`).
    ///
    /// On a restart, the new execution's context is the previous execution's.
    ///
    /// When an execution of the instance is running but its launcher's lease ran out (the
    /// launching process died), `launcher` takes it over: if the execution was awaiting a
    /// partitioned step, the grant attaches to it (``LaunchGrant/attachedFrom`` is set); otherwise
    /// the orphan is marked FAILED and restarted, in the same transaction. A live launcher is
    /// never displaced.
    func createJobExecution(jobName: String, parameters: JobParameters, restartable: Bool, launcher: LauncherIdentity)
        throws -> Result<LaunchGrant, LaunchRefusal>

    /// The newest execution of `stepName` in any execution of the instance, or nil.
    func lastStepExecution(jobInstanceID: Int64, stepName: String) throws -> StepExecution?

    /// Creates a step execution in STARTING state with the given starting context.
    func createStepExecution(jobExecutionID: Int64, stepName: String, context: ExecutionContext)
        throws -> StepExecution

    /// Saves a job execution's status, exit status, times and context.
    func update(_ execution: inout JobExecution) throws

    /// Saves a step execution's status, exit status, times, counts and context, outside any
    /// chunk (at start and end).
    func update(_ execution: inout StepExecution) throws

    /// Runs `body` in a transaction with a working copy of `execution`, then saves that copy
    /// (counts, context) in the same transaction and commits. A chunk's output, checkpoint and
    /// counts are thus one commit.
    ///
    /// - Returns: the value of `body`, and the job execution's status as of the commit (so a
    ///   step sees an operator's STOPPING at its next chunk).
    /// - Throws: what `body` threw (after rolling back), or a repository error; either way
    ///   nothing of the transaction was kept and `execution` is unchanged.
    func inChunkTransaction<Result>(
        _ execution: inout StepExecution,
        _ body: (any StepTransaction, inout StepExecution) throws -> Result
    ) throws -> (Result, jobStatus: BatchStatus)

    /// The parameters of the job's most recent execution (for `--next`), or nil if it never ran.
    func lastParameters(jobName: String) throws -> JobParameters?

    /// Asks a running execution to stop: it becomes STOPPING and its steps end at their next
    /// commit. Returns the status found (unchanged when the execution was not running).
    func requestStop(jobExecutionID: Int64) throws -> BatchStatus?

    /// Marks a stopped or failed execution ABANDONED so it is never restarted. Returns the
    /// status found.
    func abandon(jobExecutionID: Int64) throws -> BatchStatus?

    /// The job execution with this id, or nil.
    func jobExecution(id: Int64) throws -> JobExecution?

    /// The step executions of a job execution, oldest first.
    func stepExecutions(jobExecutionID: Int64) throws -> [StepExecution]

    /// Opens another session to the same repository, under the same fencing (a partition's
    /// lease), for a step that commits from several threads, one session each.
    func openSibling() throws -> any JobRepositorySession

    /// Closes the session.
    func close()

    /// What coordinates the partitioned steps run through this session across processes, or
    /// nil when the repository cannot (a partitioned step then fails at once, saying so).
    var partitionCoordinator: (any PartitionCoordinator)? { get }

    /// What carries the chunks of remote chunk steps run through this session to workers, or
    /// nil when the repository cannot.
    var remoteChunkChannel: (any RemoteChunkChannel)? { get }

    /// Skips committed by the other parts of `execution`'s step (a partitioned step's other
    /// partitions), which count against the step's skip limit with `execution`'s own: the limit
    /// holds for the whole step, whatever runs it. Asked only when an item is about to be
    /// skipped. Zero for a step that runs in one piece.
    func skipsElsewhereInStep(of execution: StepExecution) throws -> Int64

    /// Called when `error` ended a job's run: whether it means the repository may have lost the
    /// execution's latest writes (the session's connection was lost, as in a failover to a
    /// standby that had not received them) and this session is connected again (it tries,
    /// within a bound), so the runner may read the execution back and await its unfinished
    /// steps again. False leaves `error` as the run's; the default is false.
    func reconnectForResume(after error: any Error) -> Bool
}

extension JobRepositorySession {
    public func skipsElsewhereInStep(of execution: StepExecution) throws -> Int64 { 0 }

    public func reconnectForResume(after error: any Error) -> Bool { false }
}
