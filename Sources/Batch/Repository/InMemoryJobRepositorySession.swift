/// A session on an ``InMemoryJobRepository``: every call is one atomic operation on the
/// repository's store, which all its sessions share.
///
/// It never blocks on I/O, but it follows the protocol's rule all the same: one thread at a
/// time per session (a multi-threaded step opens a sibling per thread).
public final class InMemoryJobRepositorySession: JobRepositorySession, Sendable {
    let store: InMemoryJobStore

    init(store: InMemoryJobStore) {
        self.store = store
    }

    public func createJobExecution(
        jobName: String, parameters: JobParameters, restartable: Bool, launcher: LauncherIdentity
    ) throws -> Result<LaunchGrant, LaunchRefusal> {
        store.createJobExecution(jobName: jobName, parameters: parameters, restartable: restartable, launcher: launcher)
    }

    public func lastStepExecution(jobInstanceID: Int64, stepName: String) throws -> StepExecution? {
        store.lastStepExecution(jobInstanceID: jobInstanceID, stepName: stepName)
    }

    public func createStepExecution(jobExecutionID: Int64, stepName: String, context: ExecutionContext)
        throws -> StepExecution
    {
        try store.createStepExecution(jobExecutionID: jobExecutionID, stepName: stepName, context: context)
    }

    public func update(_ execution: inout JobExecution) throws {
        try store.update(&execution)
    }

    public func update(_ execution: inout StepExecution) throws {
        _ = try store.save(&execution)
    }

    /// Runs `body` with a working copy of `execution` and a fresh ``InMemoryStepTransaction``,
    /// then, if the body returned, saves the copy with what the transaction staged (skips,
    /// ``InMemoryStepTransaction/onCommit(_:)`` actions) in one atomic step. If the body or the
    /// save throws, nothing is kept and `execution` is unchanged.
    public func inChunkTransaction<Result>(
        _ execution: inout StepExecution,
        _ body: (any StepTransaction, inout StepExecution) throws -> Result
    ) throws -> (Result, jobStatus: BatchStatus) {
        var working = execution
        let transaction = InMemoryStepTransaction()
        let result = try body(transaction, &working)
        if let failure = store.takeCommitFailure(stepName: execution.stepName) { throw failure }
        let (skips, actions) = transaction.finish()
        let jobStatus = try store.save(&working, skips: skips, actions: actions)
        execution = working
        return (result, jobStatus)
    }

    public func lastParameters(jobName: String) throws -> JobParameters? {
        store.lastParameters(jobName: jobName)
    }

    public func requestStop(jobExecutionID: Int64) throws -> BatchStatus? {
        store.requestStop(jobExecutionID: jobExecutionID)
    }

    public func abandon(jobExecutionID: Int64) throws -> BatchStatus? {
        store.abandon(jobExecutionID: jobExecutionID)
    }

    public func jobExecution(id: Int64) throws -> JobExecution? {
        store.jobExecution(id: id)
    }

    public func stepExecutions(jobExecutionID: Int64) throws -> [StepExecution] {
        store.stepExecutions(jobExecutionID: jobExecutionID)
    }

    /// Another session on the same store.
    public func openSibling() throws -> any JobRepositorySession {
        InMemoryJobRepositorySession(store: store)
    }

    public func close() {}
}
