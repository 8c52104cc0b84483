import Batch
import BatchPostgres
import Logging

/// The repository session a claimed partition's step runs through: every save goes through
/// under the claim's ``PartitionCommitGuard``, so nothing commits once the claim is lost.
///
/// Made for one run of one partition and thrown away after it; it holds no mode a caller sets.
/// The slot's PostgreSQL session underneath is reused from partition to partition.
final class PartitionRunSession: JobRepositorySession {
    let base: PostgresJobRepositorySession
    let fence: PartitionFence
    /// The claim a commit that ends the partition also makes for the slot's next one (nil: claim
    /// nothing, as when the worker is shutting down, or for a sibling session).
    let claimNext: ClaimRequest?
    let trust: ClaimTrust
    /// Set once a commit saved the step COMPLETED and so ended the partition in the same
    /// statement (a tasklet's last call): the worker then has nothing left to write. `at` is
    /// when that statement started (the lease of a partition it claimed runs from then).
    private(set) var ended: (outcome: PartitionCommitGuard.Outcome, at: ContinuousClock.Instant)?

    init(base: PostgresJobRepositorySession, fence: PartitionFence, claimNext: ClaimRequest?, trust: ClaimTrust) {
        self.base = base
        self.fence = fence
        self.claimNext = claimNext
        self.trust = trust
    }

    func inChunkTransaction<Result>(
        _ execution: inout StepExecution,
        _ body: (any StepTransaction, inout StepExecution) throws -> Result
    ) throws -> (Result, jobStatus: BatchStatus) {
        let saveGuard = PartitionCommitGuard(fence: fence, end: .whenCompleted(claimNext: claimNext))
        let started = ContinuousClock.now
        let (result, jobStatus, outcome) = try trust.renewing(fence) {
            try base.inChunkTransaction(&execution, guardedBy: saveGuard, body)
        }
        // Only once committed: a rolled-back claim is no claim.
        if outcome.ended { ended = (outcome, started) }
        return (result, jobStatus)
    }

    func update(_ execution: inout StepExecution) throws {
        _ = try trust.renewing(fence) {
            try base.update(&execution, guardedBy: PartitionCommitGuard(fence: fence, end: .renew))
        }
    }

    /// A sibling for a step that commits from several threads: the same claim guards its saves;
    /// it never claims a next partition.
    func openSibling() throws -> any JobRepositorySession {
        PartitionRunSession(base: try base.openSiblingSession(), fence: fence, claimNext: nil, trust: trust)
    }

    func close() { base.close() }

    // A partition's step is never itself partitioned or remotely chunked.
    var partitionCoordinator: (any PartitionCoordinator)? { nil }
    var remoteChunkChannel: (any RemoteChunkChannel)? { nil }

    /// The skips the manager step's other partitions committed: the worker step's skip limit
    /// holds for the whole partitioned step.
    func skipsElsewhereInStep(of execution: StepExecution) throws -> Int64 {
        try base.skipsOfOtherPartitions(than: fence.partitionID)
    }

    // Everything else is the plain repository's.

    func createJobExecution(jobName: String, parameters: JobParameters, restartable: Bool, launcher: LauncherIdentity)
        throws -> Result<LaunchGrant, LaunchRefusal>
    {
        try base.createJobExecution(jobName: jobName, parameters: parameters, restartable: restartable, launcher: launcher)
    }

    func lastStepExecution(jobInstanceID: Int64, stepName: String) throws -> StepExecution? {
        try base.lastStepExecution(jobInstanceID: jobInstanceID, stepName: stepName)
    }

    func createStepExecution(jobExecutionID: Int64, stepName: String, context: ExecutionContext) throws -> StepExecution {
        try base.createStepExecution(jobExecutionID: jobExecutionID, stepName: stepName, context: context)
    }

    func update(_ execution: inout JobExecution) throws { try base.update(&execution) }

    func lastParameters(jobName: String) throws -> JobParameters? { try base.lastParameters(jobName: jobName) }

    func requestStop(jobExecutionID: Int64) throws -> BatchStatus? { try base.requestStop(jobExecutionID: jobExecutionID) }

    func abandon(jobExecutionID: Int64) throws -> BatchStatus? { try base.abandon(jobExecutionID: jobExecutionID) }

    func jobExecution(id: Int64) throws -> JobExecution? { try base.jobExecution(id: id) }

    func stepExecutions(jobExecutionID: Int64) throws -> [StepExecution] {
        try base.stepExecutions(jobExecutionID: jobExecutionID)
    }
}

/// What a slot knows of its claim: whether it is lost, and how a save that went through renews
/// the slot's trust in it (the save renewed the lease in the same statement).
struct ClaimTrust: Sendable {
    let isLost: @Sendable () -> Bool
    let renewed: @Sendable (_ at: ContinuousClock.Instant) -> Void

    /// Runs `save` unless the claim is known lost (then nothing reaches the database), and
    /// trusts the claim for a lease from the save's start once it went through.
    func renewing<Result>(_ fence: PartitionFence, _ save: () throws -> Result) throws -> Result {
        guard !isLost() else { throw PartitionLeaseLost(fence: fence) }
        let started = ContinuousClock.now
        let result = try save()
        renewed(started)
        return result
    }
}
