import Batch
import Foundation
import PostgresClient

/// One connection's worth of job repository. Used by one thread at a time.
public final class PostgresJobRepositorySession: JobRepositorySession {
    /// The session's connection, for callers that need more than the repository protocol.
    public let connection: PostgresConnection
    /// Set while a worker runs a claimed partition: every save of a step execution then renews
    /// the partition's lease in the same statement, and fails if the lease was lost.
    public var fence: PartitionFence?
    /// Set when a fenced commit saved its step COMPLETED and so ended the partition in the same
    /// statement (a tasklet's last commit): the worker then has nothing left to write.
    public var partitionEnded = false
    /// Set by a worker slot that wants more work: the statement that ends the fenced partition
    /// then also claims the slot's next one, into ``nextClaim``. One commit per short partition
    /// instead of two.
    public var claimWithFinish: ClaimRequest?
    /// The partition claimed by the statement that ended the last one (see ``claimWithFinish``);
    /// the slot must run it (or hand it back): its lease runs from now.
    public var nextClaim: ClaimedPartition?

    /// Whether this session's commits return before their WAL flush (see
    /// ``PostgresJobRepository/synchronousCommit``); the job execution's updates always wait.
    public private(set) var commitsAsynchronously = false

    public init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// From now on this session's commits do not wait for their WAL flush, except the job
    /// execution's updates, which flush everything before them, and the writes a manager goes on
    /// relying on after a reconnect (its partitions, the remote chunks it adopts).
    public func commitAsynchronously() throws {
        try connection.execute("SET synchronous_commit = off")
        commitsAsynchronously = true
    }

    /// Inside a transaction of this session: its commit waits for the WAL flush, whatever the
    /// session's setting. For what the process relies on being there after a database crash
    /// and a reconnect, or reports as ended.
    func commitDurably(_ db: PostgresConnection) throws {
        if commitsAsynchronously { try db.execute("SET LOCAL synchronous_commit = on", prepared: true) }
    }

    public func close() {
        connection.close()
    }

    /// A session on a new connection with the same parameters (the schema was checked when this
    /// one was opened), under the same fence.
    public func openSibling() throws -> any JobRepositorySession {
        let sibling = PostgresJobRepositorySession(connection: try connection.openAnother())
        sibling.fence = fence
        if commitsAsynchronously {
            do {
                try sibling.commitAsynchronously()
            } catch {
                sibling.close()
                throw error
            }
        }
        return sibling
    }

    // MARK: - Launch

    public func createJobExecution(
        jobName: String, parameters: JobParameters, restartable: Bool, launcher: LauncherIdentity
    ) throws -> Result<LaunchGrant, LaunchRefusal> {
        let key = parameters.jobKey
        let now = Date()
        do {
            return try createJobExecution(
                jobName: jobName, key: key, parameters: parameters, restartable: restartable, launcher: launcher, now: now)
        } catch let refusal as LaunchRefusal {
            return .failure(refusal)
        }
    }

    private func createJobExecution(
        jobName: String, key: String, parameters: JobParameters, restartable: Bool, launcher: LauncherIdentity,
        now: Date
    ) throws -> Result<LaunchGrant, LaunchRefusal> {
        try connection.withTransaction { db in
            // Concurrent launchers of a new instance: the loser's INSERT waits for the winner's
            // commit and then does nothing; the row lock below then serializes their checks.
            try db.execute("""
                INSERT INTO batch_job_instance (job_instance_id, version, job_name, job_key)
                VALUES (nextval('batch_job_seq'), 0, \(jobName), \(key))
                ON CONFLICT (job_name, job_key) DO NOTHING
                """, prepared: true)
            let instanceID = try db.query("""
                SELECT job_instance_id FROM batch_job_instance
                WHERE job_name = \(jobName) AND job_key = \(key) FOR UPDATE
                """, prepared: true).single().decode(Int64.self, column: 0)
            let instance = JobInstance(id: instanceID, jobName: jobName, jobKey: key)

            let last = try db.query("""
                SELECT job_execution_id, status FROM batch_job_execution
                WHERE job_instance_id = \(instanceID) ORDER BY job_execution_id DESC LIMIT 1
                """, prepared: true).first.map { try $0.decode((Int64, String?).self) }
            var restartFrom: Int64?
            if let (lastID, lastStatus) = last {
                var status = lastStatus.flatMap(BatchStatus.init(rawValue:)) ?? .unknown
                if status.isRunning {
                    switch try Self.takeOver(db, executionID: lastID, launcher: launcher, now: now) {
                    case .refused(let refusal):
                        return .failure(refusal)
                    case .attach(let previousOwner):
                        guard let execution = try jobExecution(id: lastID) else {
                            throw JobRepositoryError(message: "execution \(lastID) vanished while attaching to it")
                        }
                        return .success(LaunchGrant(execution: execution, attachedFrom: previousOwner))
                    case .failedOrphan:
                        status = .failed
                    }
                }
                // Unlike Spring Batch, an instance without identifying parameters is no exception:
                // once complete it is refused (use --next for a new instance).
                if status == .completed { return .failure(.alreadyComplete(executionID: lastID)) }
                if status == .abandoned { return .failure(.abandoned(executionID: lastID)) }
                if !restartable { return .failure(.notRestartable(executionID: lastID)) }
                restartFrom = lastID
            }

            let executionID: Int64
            do {
                executionID = try db.query("""
                    INSERT INTO batch_job_execution
                        (job_execution_id, version, job_instance_id, create_time, status, exit_code, exit_message, last_updated)
                    VALUES (nextval('batch_job_execution_seq'), 0, \(instanceID), \(now), 'STARTING', 'UNKNOWN', '', \(now))
                    RETURNING job_execution_id
                    """, prepared: true).single().decode(Int64.self, column: 0)
            } catch let error as PostgresError where error.sqlState == .uniqueViolation {
                // Only reachable if a writer bypassed the instance lock; the index still holds.
                let running = try Self.runningExecution(db, instanceID) ?? 0
                throw LaunchRefusal.alreadyRunning(executionID: running)
            }
            for (name, parameter) in parameters {
                try db.execute("""
                    INSERT INTO batch_job_execution_params
                        (job_execution_id, parameter_name, parameter_type, parameter_value, identifying)
                    VALUES (\(executionID), \(name), \(parameter.storageType), \(parameter.storageValue),
                            \(parameter.identifying ? "Y" : "N"))
                    """, prepared: true)
            }
            var context = ExecutionContext()
            if let restartFrom {
                context = try Self.jobContext(db, restartFrom) ?? ExecutionContext()
            }
            let (short, serialized) = context.storageForm()
            try db.execute("""
                INSERT INTO batch_job_execution_context (job_execution_id, short_context, serialized_context)
                VALUES (\(executionID), \(short), \(serialized))
                """, prepared: true)
            try db.execute("""
                INSERT INTO batch_job_launcher (job_execution_id, owner, host, pid, lease_expires_at)
                VALUES (\(executionID), \(launcher.owner), \(launcher.host), \(launcher.pid),
                        now() + make_interval(secs => \(launcher.leaseSeconds)))
                """, prepared: true)
            return .success(LaunchGrant(execution: JobExecution(
                id: executionID, instance: instance, parameters: parameters, status: .starting,
                exitStatus: .unknown, createTime: now, lastUpdated: now, context: context)))
        }
    }

    private enum TakeOver {
        case refused(LaunchRefusal)
        /// The execution awaits partitions that workers carry on with: attach to it.
        case attach(previousOwner: String)
        /// The execution died with its launcher (it was running a step in-process): it is now
        /// FAILED and may be restarted.
        case failedOrphan
    }

    /// Decides what a launch does about a running execution of its instance (under the
    /// instance's row lock): refuse while its launcher lives; once the launcher's lease ran
    /// out, attach when the execution awaits partitions, or fail it so it can restart.
    private static func takeOver(
        _ db: PostgresConnection, executionID: Int64, launcher: LauncherIdentity, now: Date
    ) throws -> TakeOver {
        guard let row = try db.query("""
            SELECT owner, host, pid, lease_expires_at < now(), extract(epoch FROM now() - heartbeat_at)::bigint,
                   ceil(extract(epoch FROM lease_expires_at - now()))::bigint
            FROM batch_job_launcher WHERE job_execution_id = \(executionID) FOR UPDATE
            """, prepared: true).first
        else {
            // Launched by a binary without launcher heartbeats: never guess that it is dead.
            return .refused(.alreadyRunning(executionID: executionID))
        }
        let (owner, host, pid, expired, silentFor, leaseLeft) = try row.decode((String, String, Int32, Bool, Int64, Int64).self)
        guard expired else {
            return .refused(.alreadyRunning(
                executionID: executionID,
                launcher: "pid \(pid) on \(host), heard from \(silentFor) s ago; if that process is gone, "
                    + "a launch after its lease runs out (in \(leaseLeft) s) attaches to the execution"))
        }
        if try awaitsPartitions(db, executionID) {
            try db.execute("""
                UPDATE batch_job_launcher SET owner = \(launcher.owner), host = \(launcher.host), pid = \(launcher.pid),
                    attachments = attachments + 1, heartbeat_at = now(),
                    lease_expires_at = now() + make_interval(secs => \(launcher.leaseSeconds))
                WHERE job_execution_id = \(executionID)
                """, prepared: true)
            return .attach(previousOwner: owner)
        }
        let reason = "its launcher (pid \(pid) on \(host)) stopped heartbeating \(silentFor) s before a new launch"
        _ = try failRunning(db, executionID, reason: reason, now: now)
        return .failedOrphan
    }

    /// Whether the running execution is awaiting a partitioned step (workers can carry it on
    /// without its launcher).
    static func awaitsPartitions(_ db: PostgresConnection, _ executionID: Int64) throws -> Bool {
        try db.query("""
            SELECT EXISTS (
                SELECT 1 FROM batch_step_execution s
                WHERE s.job_execution_id = \(executionID) AND s.status IN ('STARTING', 'STARTED', 'STOPPING')
                  AND EXISTS (SELECT 1 FROM batch_partition p WHERE p.manager_step_execution_id = s.step_execution_id))
            """, prepared: true).single().decode(Bool.self, column: 0)
    }

    /// Marks a running execution and its running step executions FAILED, saying why; returns
    /// the names of the steps that were running. The step's optimistic version moves on, so a
    /// chunk still in flight in a process that was running it can no longer commit.
    static func failRunning(_ db: PostgresConnection, _ executionID: Int64, reason: String, now: Date) throws -> [String] {
        let reason = String(reason.prefix(2500))
        let steps = try db.query("""
            UPDATE batch_step_execution SET status = 'FAILED', exit_code = 'FAILED', exit_message = \(reason),
                end_time = \(now), last_updated = \(now), version = version + 1
            WHERE job_execution_id = \(executionID) AND status IN ('STARTING', 'STARTED', 'STOPPING')
            RETURNING step_name
            """, prepared: true).map { try $0.decode(String.self, column: 0) }
        try db.execute("""
            UPDATE batch_job_execution SET status = 'FAILED', exit_code = 'FAILED', exit_message = \(reason),
                end_time = \(now), last_updated = \(now), version = version + 1
            WHERE job_execution_id = \(executionID)
            """, prepared: true)
        return steps.filter { !$0.contains(":") }
    }

    private static func runningExecution(_ db: PostgresConnection, _ instanceID: Int64) throws -> Int64? {
        try db.query("""
            SELECT job_execution_id FROM batch_job_execution
            WHERE job_instance_id = \(instanceID) AND status IN ('STARTING', 'STARTED', 'STOPPING')
            """).first?.decode(Int64.self, column: 0)
    }

    private static func jobContext(_ db: PostgresConnection, _ executionID: Int64) throws -> ExecutionContext? {
        guard let row = try db.query("""
            SELECT short_context, serialized_context FROM batch_job_execution_context
            WHERE job_execution_id = \(executionID)
            """, prepared: true).first
        else { return nil }
        return try ExecutionContext(short: row.decode(String.self, column: 0), serialized: row.decode(String?.self, column: 1))
    }

    public func lastParameters(jobName: String) throws -> JobParameters? {
        guard let executionID = try connection.query("""
            SELECT max(e.job_execution_id) FROM batch_job_execution e
            JOIN batch_job_instance i USING (job_instance_id) WHERE i.job_name = \(jobName)
            """).single().decode(Int64?.self, column: 0)
        else { return nil }
        return try parameters(of: executionID)
    }

    func parameters(of executionID: Int64) throws -> JobParameters {
        var values: [String: JobParameter] = [:]
        for row in try connection.query("""
            SELECT parameter_name, parameter_type, parameter_value, identifying
            FROM batch_job_execution_params WHERE job_execution_id = \(executionID)
            """, prepared: true)
        {
            let (name, type, value, identifying) = try row.decode((String, String, String?, String).self)
            values[name] = try JobParameter(
                name: name, storageType: type, storageValue: value ?? "", identifying: identifying == "Y")
        }
        return JobParameters(values)
    }

    // MARK: - Steps

    public func lastStepExecution(jobInstanceID: Int64, stepName: String) throws -> StepExecution? {
        // Only attempts since the instance last completed count: a parameterless job that runs
        // again after completing starts all its steps afresh.
        try connection.query("""
            SELECT \(unsafeRaw: Self.stepColumns)
            FROM batch_step_execution s
            JOIN batch_job_execution e ON e.job_execution_id = s.job_execution_id
            LEFT JOIN batch_step_execution_context c ON c.step_execution_id = s.step_execution_id
            WHERE e.job_instance_id = \(jobInstanceID) AND s.step_name = \(stepName)
              AND e.job_execution_id > coalesce((
                  SELECT max(job_execution_id) FROM batch_job_execution
                  WHERE job_instance_id = \(jobInstanceID) AND status = 'COMPLETED'), 0)
            ORDER BY s.step_execution_id DESC LIMIT 1
            """, prepared: true).first.map(Self.stepExecution(from:))
    }

    public func createStepExecution(jobExecutionID: Int64, stepName: String, context: ExecutionContext)
        throws -> StepExecution
    {
        let now = Date()
        let (short, serialized) = context.storageForm()
        let id = try connection.withTransaction { db in
            let id = try db.query("""
                INSERT INTO batch_step_execution
                    (step_execution_id, version, step_name, job_execution_id, create_time, status,
                     commit_count, read_count, filter_count, write_count, read_skip_count,
                     write_skip_count, process_skip_count, rollback_count, exit_code, exit_message, last_updated)
                VALUES (nextval('batch_step_execution_seq'), 0, \(stepName), \(jobExecutionID), \(now), 'STARTING',
                        0, 0, 0, 0, 0, 0, 0, 0, 'EXECUTING', '', \(now))
                RETURNING step_execution_id
                """, prepared: true).single().decode(Int64.self, column: 0)
            try db.execute("""
                INSERT INTO batch_step_execution_context (step_execution_id, short_context, serialized_context)
                VALUES (\(id), \(short), \(serialized))
                """, prepared: true)
            return id
        }
        return StepExecution(
            id: id, jobExecutionID: jobExecutionID, stepName: stepName, createTime: now,
            lastUpdated: now, context: context)
    }

    public func update(_ execution: inout StepExecution) throws {
        var saved = execution
        let fence = self.fence
        try connection.withTransaction { db in
            _ = try Self.save(&saved, db, fence: fence)
        }
        execution = saved
    }

    public func inChunkTransaction<Result>(
        _ execution: inout StepExecution,
        _ body: (any StepTransaction, inout StepExecution) throws -> Result
    ) throws -> (Result, jobStatus: BatchStatus) {
        var working = execution
        let fence = self.fence
        let claim = claimWithFinish
        var ends = false
        var next: ClaimedPartition?
        // BEGIN is sent only if the chunk touches the database: a tasklet call that does not
        // commits its counts and checkpoint (and, for a partition, its end) in one statement.
        let (result, jobStatus) = try connection.withDeferredTransaction { deferred in
            let result = try body(PostgresStepTransaction(deferred: deferred), &working)
            ends = fence != nil && working.status == .completed
            let finish = ends
                ? PartitionFinish(state: "COMPLETED", error: nil, channel: ClusterChannels.partitionDone, payload: fence?.workerStep ?? "")
                : nil
            let saved = try Self.save(&working, deferred.finalStatementConnection, fence: fence, finish: finish,
                                      claimNext: ends ? claim : nil)
            next = saved.next
            return (result, saved.jobStatus)
        }
        // Only once committed: a rolled-back claim is no claim.
        if ends {
            partitionEnded = true
            nextClaim = next
        }
        execution = working
        return (result, jobStatus)
    }

    /// Saves counts, status and context in one statement, guarded by the optimistic version
    /// (and, for a fenced partition, by its lease, renewed in the same statement), and returns
    /// the job execution's status as of now.
    ///
    /// With `finish`, the same statement also ends the partition (its state, error and lease)
    /// and wakes the manager or the workers: a partition's last save is one round trip, atomic
    /// on its own, outside any transaction.
    ///
    /// With `claimNext` as well (a partition's end, by a worker that wants more), the statement
    /// also claims the worker's next partition, exactly as ``claimPartitions(workerID:steps:limit:leaseSeconds:)``
    /// would, and only if the save itself succeeded.
    static func save(
        _ execution: inout StepExecution, _ db: PostgresConnection, fence: PartitionFence?,
        finish: PartitionFinish? = nil, claimNext: ClaimRequest? = nil
    ) throws -> (jobStatus: BatchStatus, next: ClaimedPartition?) {
        precondition(finish == nil || fence != nil, "only a fenced partition can be finished")
        precondition(claimNext == nil || (finish != nil && finish?.state != "READY"), "only a partition's end claims the next")
        // No served steps, no candidates: the claim's part of the statement reads nothing.
        let claimSteps = claimNext?.steps.joined(separator: ",") ?? ""
        let now = Date()
        let counts = execution.counts
        let exit = execution.exitStatus.truncatedForStorage
        let (short, serialized) = execution.context.storageForm()
        let state = finish?.state
        let row: PostgresRow
        do {
            row = try db.query("""
            WITH lease AS (
                -- Only for a fenced partition: the bound flag is a one-time filter, so an
                -- unpartitioned step's chunk commit never touches batch_partition. A chunk
                -- renews the lease; a finish sets the partition's state instead.
                UPDATE batch_partition SET updated_at = now(),
                    lease_expires_at = CASE WHEN \(state)::text IS NULL THEN now() + make_interval(secs => \(fence?.leaseSeconds ?? 0))
                                            WHEN \(state)::text = 'READY' THEN NULL ELSE lease_expires_at END,
                    state = coalesce(\(state)::text, state),
                    last_error = CASE WHEN \(state)::text IS NULL THEN last_error ELSE \(finish?.error)::text END,
                    owner = CASE WHEN \(state)::text = 'READY' THEN NULL ELSE owner END,
                    attempt = CASE WHEN \(state)::text = 'READY' THEN attempt - 1 ELSE attempt END
                -- `IS TRUE` keeps this a primary-key lookup: a bare state = 'CLAIMED' would let
                -- the planner use the claimable index, walking every claim since the last vacuum.
                WHERE \(fence != nil) AND partition_id = \(fence?.partitionID ?? 0) AND owner = \(fence?.owner ?? "")
                  AND attempt = \(fence?.attempt ?? 0) AND (state = 'CLAIMED') IS TRUE
                RETURNING partition_id, worker_step
            ), step AS (
                UPDATE batch_step_execution SET
                    version = version + 1, status = \(execution.status.rawValue),
                    start_time = \(execution.startTime), end_time = \(execution.endTime),
                    commit_count = \(counts.commit), read_count = \(counts.read),
                    filter_count = \(counts.filter), write_count = \(counts.write),
                    read_skip_count = \(counts.readSkip), write_skip_count = \(counts.writeSkip),
                    process_skip_count = \(counts.processSkip), rollback_count = \(counts.rollback),
                    exit_code = \(exit.exitCode), exit_message = \(exit.exitDescription), last_updated = \(now)
                WHERE step_execution_id = \(execution.id) AND version = \(execution.version)
                  AND (NOT \(fence != nil) OR EXISTS (SELECT 1 FROM lease))
                RETURNING job_execution_id
            ), context AS (
                -- An unchanged context (a tasklet that keeps none, a partition's key range) is
                -- not written again: no new row version, no WAL. Each value is bound once.
                UPDATE batch_step_execution_context c SET short_context = given.short, serialized_context = given.serialized
                FROM (SELECT \(short)::text AS short, \(serialized)::text AS serialized) given
                WHERE c.step_execution_id = \(execution.id) AND EXISTS (SELECT 1 FROM step)
                  AND (c.short_context, c.serialized_context) IS DISTINCT FROM (given.short, given.serialized)
            ), next_pick AS MATERIALIZED (
                -- The worker's next partition: a ready one after this one (never this one: the
                -- same row must not be updated twice). Claims go in id order, so the claimable
                -- index's entries before it are nearly all dead (claimed since the last
                -- vacuum); seeking past them skips them. Written as row comparisons (between
                -- (step, READY, this id) and the end of (step, READY)), it is a seek only the
                -- claimable index can serve. When none is after it, nothing is claimed here:
                -- the slot then claims as any claim does (expired claims first, then any ready
                -- one), after this commit, so the manager is not kept waiting for that walk.
                SELECT c.partition_id
                FROM unnest(string_to_array(\(claimSteps), ',')) AS served(step)
                CROSS JOIN LATERAL (
                    SELECT partition_id FROM batch_partition
                    WHERE (worker_step, state, partition_id) > (served.step, 'READY', \(fence?.partitionID ?? 0))
                      AND (worker_step, state) <= (served.step, 'READY') AND state IN ('READY', 'CLAIMED')
                    ORDER BY worker_step, state, partition_id
                    LIMIT 1
                    FOR UPDATE SKIP LOCKED
                ) c
                LIMIT 1
            ), next AS (
                UPDATE batch_partition p SET state = 'CLAIMED', owner = \(claimNext?.workerID ?? ""), attempt = p.attempt + 1,
                    lease_expires_at = now() + make_interval(secs => \(claimNext?.leaseSeconds ?? 0)), updated_at = now()
                FROM next_pick picked, batch_step_execution s
                LEFT JOIN batch_step_execution_context c ON c.step_execution_id = s.step_execution_id
                WHERE p.partition_id = picked.partition_id AND s.step_execution_id = p.step_execution_id
                  AND EXISTS (SELECT 1 FROM step)
                RETURNING \(unsafeRaw: Self.claimColumns)
            )
            SELECT (SELECT e.status FROM batch_job_execution e JOIN step ON e.job_execution_id = step.job_execution_id),
                   (SELECT count(*) FROM lease),
                   -- A NOTIFY wakes every listening session of the database (all workers too),
                   -- so one is sent only when the manager needs it at once: for a partition that
                   -- did not complete, or once fewer than 10 partitions of its step wait after
                   -- this one (the queue is nearly drained: what is left is running). It seeks
                   -- past the dead index entries of earlier claims, as the pick of the next does.
                   -- Partitions of another execution of the same step count too (filtering on
                   -- the manager would make the planner read all of its ready ones): while
                   -- another job's partitions wait, a manager sees its end by its own poll.
                   (SELECT pg_notify(\(finish?.channel ?? ""), \(finish?.payload ?? "")) FROM lease
                    WHERE \(state)::text IS NOT NULL
                      AND (\(state)::text <> 'COMPLETED'
                           OR (SELECT count(*) FROM (
                                   SELECT 1 FROM batch_partition o
                                   WHERE (o.worker_step, o.state, o.partition_id) > (lease.worker_step, 'READY', lease.partition_id)
                                     AND (o.worker_step, o.state) <= (lease.worker_step, 'READY') AND o.state IN ('READY', 'CLAIMED')
                                   ORDER BY o.worker_step, o.state, o.partition_id LIMIT 10) waiting) < 10)),
                   -- A finish must not end the partition with its step unsaved (a stale version):
                   -- dividing by zero then fails the whole statement, so nothing is written.
                   CASE WHEN \(state)::text IS NOT NULL AND (SELECT count(*) FROM lease) = 1
                        THEN 1 / (SELECT count(*) FROM step)::int END,
                   next.*
            FROM (VALUES (1)) AS one LEFT JOIN next ON true
            """, prepared: true).single()
        } catch let error as PostgresError where finish != nil && error.sqlState == .divisionByZero {
            throw staleVersion(execution)
        }
        // A fenced partition checks its lease first: losing it is what a stale version means there.
        if let fence, try row.decode(Int64.self, column: 1) == 0 {
            throw PartitionLeaseLost(fence: fence)
        }
        guard let status = try row.decode(String?.self, column: 0) else {
            throw staleVersion(execution)
        }
        execution.version += 1
        execution.lastUpdated = now
        let next = try row.decode(Int64?.self, column: 4) == nil ? nil : try Self.claimedPartition(from: row, at: 4)
        return (BatchStatus(rawValue: status) ?? .unknown, next)
    }

    static func staleVersion(_ execution: StepExecution) -> JobRepositoryError {
        JobRepositoryError(
            message: "step execution \(execution.id) (\(execution.stepName)) was changed by another process (version \(execution.version) is stale); this run stops here")
    }

    // MARK: - Jobs

    public func update(_ execution: inout JobExecution) throws {
        let now = Date()
        let exit = execution.exitStatus.truncatedForStorage
        let (short, serialized) = execution.context.storageForm()
        let status = try connection.withTransaction { db in
            // The job's start and end wait for their flush, and so make every commit before
            // them durable: a job reported ended is on disk with all its steps.
            try commitDurably(db)
            // An operator's STOPPING is not overwritten by the runner's own "still running".
            let status = try db.query("""
                UPDATE batch_job_execution SET
                    version = version + 1,
                    status = CASE WHEN status = 'STOPPING' AND \(execution.status.rawValue) IN ('STARTING', 'STARTED')
                                  THEN status ELSE \(execution.status.rawValue) END,
                    start_time = \(execution.startTime), end_time = \(execution.endTime),
                    exit_code = \(exit.exitCode), exit_message = \(exit.exitDescription), last_updated = \(now)
                WHERE job_execution_id = \(execution.id)
                RETURNING status, version
                """, prepared: true).single().decode((String, Int64).self)
            try db.execute("""
                UPDATE batch_job_execution_context SET short_context = \(short), serialized_context = \(serialized)
                WHERE job_execution_id = \(execution.id)
                """, prepared: true)
            return status
        }
        execution.status = BatchStatus(rawValue: status.0) ?? .unknown
        execution.version = status.1
        execution.lastUpdated = now
    }

    public func requestStop(jobExecutionID: Int64) throws -> BatchStatus? {
        try connection.query("""
            WITH stopped AS (
                UPDATE batch_job_execution SET status = 'STOPPING', version = version + 1, last_updated = \(Date())
                WHERE job_execution_id = \(jobExecutionID) AND status IN ('STARTING', 'STARTED')
                RETURNING status)
            SELECT status FROM stopped
            UNION ALL
            SELECT status FROM batch_job_execution
            WHERE job_execution_id = \(jobExecutionID) AND NOT EXISTS (SELECT 1 FROM stopped)
            """).first.map { BatchStatus(rawValue: try $0.decode(String.self, column: 0)) ?? .unknown }
    }

    public func abandon(jobExecutionID: Int64) throws -> BatchStatus? {
        try connection.query("""
            WITH abandoned AS (
                UPDATE batch_job_execution SET status = 'ABANDONED', version = version + 1, last_updated = \(Date())
                WHERE job_execution_id = \(jobExecutionID) AND status IN ('STOPPED', 'FAILED', 'UNKNOWN')
                RETURNING status)
            SELECT status FROM abandoned
            UNION ALL
            SELECT status FROM batch_job_execution
            WHERE job_execution_id = \(jobExecutionID) AND NOT EXISTS (SELECT 1 FROM abandoned)
            """).first.map { BatchStatus(rawValue: try $0.decode(String.self, column: 0)) ?? .unknown }
    }

    public func jobExecution(id: Int64) throws -> JobExecution? {
        guard let row = try connection.query("""
            SELECT e.job_execution_id, i.job_instance_id, i.job_name, i.job_key, e.status, e.exit_code,
                   e.exit_message, e.create_time, e.start_time, e.end_time, e.last_updated, e.version,
                   c.short_context, c.serialized_context
            FROM batch_job_execution e
            JOIN batch_job_instance i ON i.job_instance_id = e.job_instance_id
            LEFT JOIN batch_job_execution_context c ON c.job_execution_id = e.job_execution_id
            WHERE e.job_execution_id = \(id)
            """, prepared: true).first
        else { return nil }
        let context: ExecutionContext
        if let short = try row.decode(String?.self, column: 12) {
            context = try ExecutionContext(short: short, serialized: row.decode(String?.self, column: 13))
        } else {
            context = ExecutionContext()
        }
        return JobExecution(
            id: try row.decode(Int64.self, column: 0),
            instance: JobInstance(
                id: try row.decode(Int64.self, column: 1), jobName: try row.decode(String.self, column: 2),
                jobKey: try row.decode(String.self, column: 3)),
            parameters: try parameters(of: id),
            status: BatchStatus(rawValue: try row.decode(String?.self, column: 4) ?? "") ?? .unknown,
            exitStatus: ExitStatus(
                exitCode: try row.decode(String?.self, column: 5) ?? "UNKNOWN",
                exitDescription: try row.decode(String?.self, column: 6) ?? ""),
            createTime: try row.decode(Date.self, column: 7),
            startTime: try row.decode(Date?.self, column: 8),
            endTime: try row.decode(Date?.self, column: 9),
            lastUpdated: try row.decode(Date?.self, column: 10),
            version: try row.decode(Int64?.self, column: 11) ?? 0,
            context: context)
    }

    public func stepExecutions(jobExecutionID: Int64) throws -> [StepExecution] {
        try connection.query("""
            SELECT \(unsafeRaw: Self.stepColumns)
            FROM batch_step_execution s
            LEFT JOIN batch_step_execution_context c ON c.step_execution_id = s.step_execution_id
            WHERE s.job_execution_id = \(jobExecutionID) ORDER BY s.step_execution_id
            """, prepared: true).map(Self.stepExecution(from:))
    }

    static let stepColumns = """
        s.step_execution_id, s.job_execution_id, s.step_name, s.status, s.exit_code, s.exit_message,
        s.read_count, s.write_count, s.filter_count, s.read_skip_count, s.process_skip_count,
        s.write_skip_count, s.commit_count, s.rollback_count, s.create_time, s.start_time, s.end_time,
        s.last_updated, s.version, c.short_context, c.serialized_context
        """
    /// How many columns ``stepColumns`` selects (what follows them starts at this index).
    static let stepColumnCount = 21

    static func stepExecution(from row: PostgresRow) throws -> StepExecution {
        try stepExecution(from: row, at: 0)
    }

    /// A step execution from ``stepColumns`` starting at column `first`.
    static func stepExecution(from row: PostgresRow, at first: Int) throws -> StepExecution {
        func count(_ column: Int) throws -> Int64 { try row.decode(Int64?.self, column: first + column) ?? 0 }
        let context: ExecutionContext
        if let short = try row.decode(String?.self, column: first + 19) {
            context = try ExecutionContext(short: short, serialized: row.decode(String?.self, column: first + 20))
        } else {
            context = ExecutionContext()
        }
        return StepExecution(
            id: try row.decode(Int64.self, column: first + 0),
            jobExecutionID: try row.decode(Int64.self, column: first + 1),
            stepName: try row.decode(String.self, column: first + 2),
            status: BatchStatus(rawValue: try row.decode(String?.self, column: first + 3) ?? "") ?? .unknown,
            exitStatus: ExitStatus(
                exitCode: try row.decode(String?.self, column: first + 4) ?? "UNKNOWN",
                exitDescription: try row.decode(String?.self, column: first + 5) ?? ""),
            counts: StepCounts(
                read: try count(6), write: try count(7), filter: try count(8), readSkip: try count(9),
                processSkip: try count(10), writeSkip: try count(11), commit: try count(12),
                rollback: try count(13)),
            createTime: try row.decode(Date.self, column: first + 14),
            startTime: try row.decode(Date?.self, column: first + 15),
            endTime: try row.decode(Date?.self, column: first + 16),
            lastUpdated: try row.decode(Date?.self, column: first + 17),
            version: try row.decode(Int64.self, column: first + 18),
            context: context)
    }
}
