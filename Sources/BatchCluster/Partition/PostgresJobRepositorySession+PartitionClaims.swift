import Batch
import BatchPostgres
import Foundation
import PostgresClient

/// A partition a worker claimed: what it must run, and the claim's attempt.
public struct ClaimedPartition: Sendable {
    public var partitionID: Int64
    public var stepExecutionID: Int64
    public var jobExecutionID: Int64
    public var jobName: String
    public var workerStep: String
    public var partitionName: String
    public var attempt: Int
    public var maxAttempts: Int
    /// The job execution's status when the partition was claimed (STOPPING: do not start it).
    public var jobStatus: BatchStatus
    /// The partition's step execution as the claim found it (its last committed checkpoint).
    public var execution: StepExecution
}

/// What a worker asks for when it claims: partitions of these worker steps, held under its
/// name for `leaseSeconds`.
public struct ClaimRequest: Sendable {
    public var workerID: String
    public var steps: [String]
    public var leaseSeconds: Double

    public init(workerID: String, steps: [String], leaseSeconds: Double) {
        self.workerID = workerID
        self.steps = steps
        self.leaseSeconds = leaseSeconds
    }
}

extension PostgresJobRepositorySession {
    /// Claims up to `limit` partitions of the given worker steps: ready ones, and ones whose
    /// lease expired with attempts left. One statement; concurrent workers skip each other's
    /// locked rows, so no partition is ever held by two of them.
    public func claimPartitions(workerID: String, steps: [String], limit: Int, leaseSeconds: Double) throws
        -> [ClaimedPartition]
    {
        guard limit > 0, !steps.isEmpty else { return [] }
        // The limit is written into the text, not bound: with a bound LIMIT the planner costs a
        // generic plan for a tenth of the rows and re-plans every other claim (planning then
        // took twice the execution's time); as a literal the generic plan is the custom one,
        // cached after five claims. A worker only ever asks for 1 to `concurrency` partitions.
        let limit = String(limit)
        return try connection.query("""
            WITH candidates AS MATERIALIZED (
                -- Step by step, each through the claimable partial index in (state, id) order
                -- (expired claims first, then ready ones), so a claim reads only the rows it
                -- takes (plus locked ones it skips), whatever the history and however many
                -- partitions wait. Only that index yields this order: the planner cannot pick
                -- the primary key and filter out every finished partition (see migration 7).
                SELECT c.partition_id
                FROM unnest(string_to_array(\(steps.joined(separator: ",")), ',')) AS served(step)
                CROSS JOIN LATERAL (
                    SELECT partition_id FROM batch_partition
                    WHERE worker_step = served.step AND state IN ('READY', 'CLAIMED')
                      AND (state = 'READY' OR (lease_expires_at < now() AND attempt < max_attempts))
                    ORDER BY worker_step, state, partition_id
                    LIMIT \(unsafeRaw: limit)
                    FOR UPDATE SKIP LOCKED
                ) c
                LIMIT \(unsafeRaw: limit)
            )
            UPDATE batch_partition p SET state = 'CLAIMED', owner = \(workerID), attempt = p.attempt + 1,
                lease_expires_at = now() + make_interval(secs => \(leaseSeconds)), updated_at = now()
            -- The step execution and its checkpoint come back with the claim: no load of its own.
            FROM candidates picked, batch_step_execution s
            LEFT JOIN batch_step_execution_context c ON c.step_execution_id = s.step_execution_id
            WHERE p.partition_id = picked.partition_id AND s.step_execution_id = p.step_execution_id
            RETURNING \(unsafeRaw: PartitionClaimSQL.claimColumns)
            """, prepared: true).map { try PartitionClaimSQL.claimedPartition(from: $0, at: 0) }
    }

    /// Fails partitions whose lease ran out on their last attempt (any manager).
    public func sweepExpiredPartitions() throws {
        try failExpiredPartitions(manager: nil)
    }

    /// Saves the partition's step execution and ends the partition as `outcome` says, in one
    /// statement guarded by the claim (owner and attempt), waking the manager when the partition
    /// is done (the workers when it was handed back). With `claimNext`, the same statement claims
    /// the worker's next partition (not when handing back).
    ///
    /// - Returns: the partition claimed next, whose lease runs from now.
    /// - Throws: ``PartitionLeaseLost`` when the claim is no longer this worker's; nothing was
    ///   written then.
    @discardableResult
    public func finishPartition(
        _ claimed: ClaimedPartition, execution: inout StepExecution, outcome: PartitionOutcome,
        fence: PartitionFence, claimNext: ClaimRequest? = nil
    ) throws -> ClaimedPartition? {
        var saved = execution
        if outcome == .handedBack {
            saved.status = .starting
            saved.exitStatus = .executing
        }
        let finish = PartitionFinish(outcome: outcome, workerStep: claimed.workerStep)
        let saveGuard = PartitionCommitGuard(fence: fence, end: .finish(finish, claimNext: claimNext))
        let outcome = try saveGuard.save(&saved, on: connection).outcome
        execution = saved
        return outcome.next
    }
}

/// The columns a claim returns and how they are read: the claimed partition's step execution
/// (with its checkpoint) and the claim, so a worker needs no load of its own.
enum PartitionClaimSQL {
    /// For `p` (the claimed partition) joined with `s` and `c` (its step execution and
    /// context): the step execution columns, then the claim's.
    static let claimColumns = PostgresJobRepositorySession.stepColumns + """
        , p.partition_id, p.job_name, p.worker_step, p.partition_name, p.attempt, p.max_attempts,
        (SELECT e.status FROM batch_job_execution e WHERE e.job_execution_id = p.job_execution_id)
        """

    static func claimedPartition(from row: PostgresRow, at first: Int) throws -> ClaimedPartition {
        let execution = try PostgresJobRepositorySession.stepExecution(from: row, at: first)
        let c = first + PostgresJobRepositorySession.stepColumnCount
        return ClaimedPartition(
            partitionID: try row.decode(Int64.self, column: c), stepExecutionID: execution.id,
            jobExecutionID: execution.jobExecutionID, jobName: try row.decode(String.self, column: c + 1),
            workerStep: try row.decode(String.self, column: c + 2), partitionName: try row.decode(String.self, column: c + 3),
            attempt: try row.decode(Int.self, column: c + 4), maxAttempts: try row.decode(Int.self, column: c + 5),
            jobStatus: try row.decode(String?.self, column: c + 6).flatMap(BatchStatus.init(rawValue:)) ?? .unknown,
            execution: execution)
    }
}

extension PostgresJobRepositorySession {
    /// Records why a worker is giving up a partition it still holds (fenced by its claim); the
    /// failure at the end of its last attempt quotes it.
    public func recordPartitionError(_ partitionID: Int64, fence: PartitionFence, error: String) throws {
        try connection.execute("""
            UPDATE batch_partition SET last_error = \(error), updated_at = now()
            WHERE partition_id = \(partitionID) AND owner = \(fence.owner) AND attempt = \(fence.attempt)
              AND (state = 'CLAIMED') IS TRUE
            """)
    }

    /// The skips committed by the partitions of `partitionID`'s manager step other than it.
    public func skipsOfOtherPartitions(than partitionID: Int64) throws -> Int64 {
        try connection.query("""
            SELECT coalesce(sum(s.read_skip_count + s.write_skip_count + s.process_skip_count), 0)::bigint
            FROM batch_partition me
            JOIN batch_partition p ON p.manager_step_execution_id = me.manager_step_execution_id
            JOIN batch_step_execution s ON s.step_execution_id = p.step_execution_id
            WHERE me.partition_id = \(partitionID) AND p.partition_id <> \(partitionID)
            """, prepared: true).single().decode(Int64.self, column: 0)
    }
}
