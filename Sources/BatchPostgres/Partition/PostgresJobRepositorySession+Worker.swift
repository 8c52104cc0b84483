import Batch
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

/// How a worker leaves a partition.
public enum PartitionOutcome: Sendable {
    case completed
    case failed(String)
    case stopped
    /// Graceful shutdown: ready again for any worker, its checkpoint kept, the attempt not counted.
    case handedBack
}

extension PostgresJobRepositorySession {
    /// Registers (or re-registers) a worker with a fresh heartbeat.
    public func registerWorker(id: String, host: String, pid: Int32, concurrency: Int, steps: [String]) throws {
        try connection.execute("""
            INSERT INTO batch_worker (worker_id, host, pid, concurrency, steps, state)
            VALUES (\(id), \(host), \(pid), \(concurrency), \(steps.joined(separator: ",")), 'RUNNING')
            ON CONFLICT (worker_id) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid,
                concurrency = EXCLUDED.concurrency, steps = EXCLUDED.steps, state = 'RUNNING',
                heartbeat_at = now()
            """)
    }

    /// Marks the worker's heartbeat and renews the leases of the partitions it is running
    /// (`held`: their claims), in one statement. Returns how many leases were renewed.
    ///
    /// Only claims in hand are renewed, never every row the worker owns: a partition a slot
    /// dropped (its connection broke and it gave up) must expire so another worker takes it.
    @discardableResult
    public func heartbeat(workerID: String, leaseSeconds: Double, held: [PartitionFence], state: String = "RUNNING") throws -> Int {
        let claims = held.map { "\($0.partitionID):\($0.attempt)" }.joined(separator: ",")
        return try connection.query("""
            WITH worker AS (
                UPDATE batch_worker SET heartbeat_at = now(), state = \(state) WHERE worker_id = \(workerID)
            )
            UPDATE batch_partition SET lease_expires_at = now() + make_interval(secs => \(leaseSeconds))
            WHERE (partition_id, attempt) IN (
                    SELECT split_part(claim, ':', 1)::bigint, split_part(claim, ':', 2)::int
                    FROM unnest(string_to_array(\(claims), ',')) claim)
              -- IS TRUE: by primary key, never through the claimable index (see Self.save).
              AND owner = \(workerID) AND (state = 'CLAIMED') IS TRUE
            """, prepared: true).affectedRows
    }

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
            RETURNING \(unsafeRaw: Self.claimColumns)
            """, prepared: true).map { try Self.claimedPartition(from: $0, at: 0) }
    }

    /// What a claim returns, for `p` (the claimed partition) joined with `s` and `c` (its step
    /// execution and context): the step execution columns, then the claim's.
    static let claimColumns = PostgresJobRepositorySession.stepColumns + """
        , p.partition_id, p.job_name, p.worker_step, p.partition_name, p.attempt, p.max_attempts,
        (SELECT e.status FROM batch_job_execution e WHERE e.job_execution_id = p.job_execution_id)
        """

    static func claimedPartition(from row: PostgresRow, at first: Int) throws -> ClaimedPartition {
        let execution = try Self.stepExecution(from: row, at: first)
        let c = first + Self.stepColumnCount
        return ClaimedPartition(
            partitionID: try row.decode(Int64.self, column: c), stepExecutionID: execution.id,
            jobExecutionID: execution.jobExecutionID, jobName: try row.decode(String.self, column: c + 1),
            workerStep: try row.decode(String.self, column: c + 2), partitionName: try row.decode(String.self, column: c + 3),
            attempt: try row.decode(Int.self, column: c + 4), maxAttempts: try row.decode(Int.self, column: c + 5),
            jobStatus: try row.decode(String?.self, column: c + 6).flatMap(BatchStatus.init(rawValue:)) ?? .unknown,
            execution: execution)
    }

    /// Fails partitions whose lease ran out on their last attempt (any manager).
    public func sweepExpiredPartitions() throws {
        try failExpiredPartitions(manager: nil)
    }

    /// The step execution of a claimed partition, as its last holder committed it.
    public func stepExecution(id: Int64) throws -> StepExecution? {
        try connection.query("""
            SELECT \(unsafeRaw: Self.stepColumns)
            FROM batch_step_execution s
            LEFT JOIN batch_step_execution_context c ON c.step_execution_id = s.step_execution_id
            WHERE s.step_execution_id = \(id)
            """, prepared: true).first.map(Self.stepExecution(from:))
    }

    /// Saves the partition's step execution and sets the partition's state in one statement
    /// guarded by the claim (owner and attempt), waking the manager when the partition is done
    /// (the workers when it was handed back); with ``claimWithFinish`` set, the same statement
    /// claims the next partition into ``nextClaim``.
    ///
    /// - Throws: ``PartitionLeaseLost`` when the claim is no longer this worker's; nothing was
    ///   written then.
    public func finishPartition(
        _ claimed: ClaimedPartition, execution: inout StepExecution, outcome: PartitionOutcome,
        fence: PartitionFence
    ) throws {
        var saved = execution
        var finish = PartitionFinish(
            state: "COMPLETED", error: nil, channel: ClusterChannels.partitionDone, payload: claimed.workerStep)
        switch outcome {
        case .completed: break
        case .failed(let message):
            finish.state = "FAILED"
            finish.error = String(message.prefix(2500))
        case .stopped: finish.state = "STOPPED"
        case .handedBack:
            finish.state = "READY"
            finish.channel = ClusterChannels.work
            saved.status = .starting
            saved.exitStatus = .executing
        }
        // A partition handed back means the worker is leaving: it claims nothing more.
        let claim = finish.state == "READY" ? nil : claimWithFinish
        nextClaim = try Self.save(&saved, connection, fence: fence, finish: finish, claimNext: claim).next
        execution = saved
    }

    /// Marks a worker stopped (it deregisters on a graceful exit).
    public func stopWorker(id: String) throws {
        try connection.execute("UPDATE batch_worker SET state = 'STOPPED', heartbeat_at = now() WHERE worker_id = \(id)")
    }
}
