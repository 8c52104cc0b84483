import Batch
import BatchPostgres
import Foundation
import Logging
import PostgresClient

/// The manager side of partitioned steps, on `batch_partition`.
extension PostgresJobRepositorySession: PartitionCoordinator {
    public func preparePartitions(
        manager: StepExecution, jobExecution: JobExecution, workerStep: String, maxAttempts: Int,
        partitions: (_ each: (Partition) throws -> Void) throws -> Void
    ) throws -> Int {
        // A launch that attached to this manager (its launcher died) finds them already there.
        let existing = try connection.query("""
            SELECT count(*) FROM batch_partition WHERE manager_step_execution_id = \(manager.id)
            """, prepared: true).single().decode(Int64.self, column: 0)
        if existing > 0 { return Int(existing) }
        // A restart reuses the partitions of this step's last attempt in the instance.
        let previous = try connection.query("""
            SELECT s.step_execution_id FROM batch_step_execution s
            JOIN batch_job_execution e ON e.job_execution_id = s.job_execution_id
            WHERE e.job_instance_id = \(jobExecution.instance.id) AND s.step_name = \(manager.stepName)
              AND s.step_execution_id <> \(manager.id)
              AND EXISTS (SELECT 1 FROM batch_partition p WHERE p.manager_step_execution_id = s.step_execution_id)
            ORDER BY s.step_execution_id DESC LIMIT 1
            """).first?.decode(Int64.self, column: 0)
        if let previous {
            return try reusePartitions(of: previous, manager: manager, jobExecution: jobExecution, maxAttempts: maxAttempts)
        }
        let now = Date()
        let stepName = manager.stepName
        return try connection.withTransaction { db in
            // Durable before the manager awaits them: after a database crash and a reconnect it
            // counts on them being there (a lost set would look finished).
            try commitDurably(db)
            // A thousand partitions a statement (their names and contexts as one JSON array):
            // 100,000 partitions are 100 round trips, not 100,000. Each batch is written as
            // soon as it is full, so only one is held in memory.
            var batch: [JSONValue] = []
            batch.reserveCapacity(Self.partitionInsertBatch)
            var count = 0
            let flush = {
                guard !batch.isEmpty else { return }
                try Self.insertPartitions(batch, db, manager: manager, jobExecution: jobExecution, workerStep: workerStep,
                                          maxAttempts: maxAttempts, now: now)
                batch.removeAll(keepingCapacity: true)
            }
            try partitions { partition in
                let (short, serialized) = partition.context.storageForm()
                batch.append(.object([
                    "i": .int(Int64(count)), "name": .string(partition.name),
                    "step": .string(stepName + ":" + partition.name),
                    "short": .string(short), "serialized": serialized.map(JSONValue.string) ?? .null,
                ]))
                count += 1
                if batch.count == Self.partitionInsertBatch { try flush() }
            }
            try flush()
            try db.notify(ClusterChannels.work, payload: workerStep)
            return count
        }
    }

    /// Writes one batch of partitions: their step executions, contexts and claim rows.
    private static func insertPartitions(
        _ rows: [JSONValue], _ db: PostgresConnection, manager: StepExecution, jobExecution: JobExecution,
        workerStep: String, maxAttempts: Int, now: Date
    ) throws {
        try db.execute("""
            WITH input AS MATERIALIZED (
                SELECT (e->>'i')::int AS i, e->>'name' AS name, e->>'step' AS step,
                       e->>'short' AS short, e->>'serialized' AS serialized
                FROM json_array_elements(\(JSONValue.array(rows).jsonText)::json) e
            ), steps AS (
                INSERT INTO batch_step_execution
                    (step_execution_id, version, step_name, job_execution_id, create_time, status,
                     commit_count, read_count, filter_count, write_count, read_skip_count,
                     write_skip_count, process_skip_count, rollback_count, exit_code, exit_message, last_updated)
                SELECT nextval('batch_step_execution_seq'), 0, step, \(jobExecution.id), \(now), 'STARTING',
                       0, 0, 0, 0, 0, 0, 0, 0, 'EXECUTING', '', \(now)
                FROM input ORDER BY i
                RETURNING step_execution_id, step_name
            ), contexts AS (
                INSERT INTO batch_step_execution_context (step_execution_id, short_context, serialized_context)
                SELECT steps.step_execution_id, input.short, input.serialized
                FROM steps JOIN input ON input.step = steps.step_name
            )
            INSERT INTO batch_partition
                (job_execution_id, manager_step_execution_id, step_execution_id, job_name, worker_step,
                 partition_name, max_attempts)
            SELECT \(jobExecution.id), \(manager.id), steps.step_execution_id, \(jobExecution.jobName),
                   \(workerStep), input.name, \(maxAttempts)
            FROM steps JOIN input ON input.step = steps.step_name
            ORDER BY input.i
            """, prepared: true)
    }

    /// Partitions written per statement by ``preparePartitions``.
    static let partitionInsertBatch = 1000

    /// COMPLETED partitions move to the new manager as they are; every other one gets a new
    /// step execution that starts from the old one's checkpoint, and becomes ready again.
    private func reusePartitions(
        of previous: Int64, manager: StepExecution, jobExecution: JobExecution, maxAttempts: Int
    ) throws -> Int {
        let now = Date()
        return try connection.withTransaction { db in
            try commitDurably(db)
            let rows = try db.query("""
                SELECT p.partition_id, p.state, p.step_execution_id, p.partition_name, p.worker_step,
                       c.short_context, c.serialized_context
                FROM batch_partition p
                LEFT JOIN batch_step_execution_context c ON c.step_execution_id = p.step_execution_id
                WHERE p.manager_step_execution_id = \(previous)
                ORDER BY p.partition_id FOR UPDATE OF p
                """)
            var workerStep = ""
            for row in rows {
                let (id, state, oldStep, name, step) = try row.decode((Int64, String, Int64, String, String).self)
                workerStep = step
                if state == "COMPLETED" {
                    try db.execute("""
                        UPDATE batch_partition SET manager_step_execution_id = \(manager.id), job_execution_id = \(jobExecution.id)
                        WHERE partition_id = \(id)
                        """, prepared: true)
                    continue
                }
                // An attempt left running by a dead worker is closed before its successor starts.
                try db.execute("""
                    UPDATE batch_step_execution SET status = 'FAILED', exit_code = 'FAILED',
                        exit_message = 'abandoned by a restart of the job', end_time = \(now), version = version + 1
                    WHERE step_execution_id = \(oldStep) AND status IN ('STARTING', 'STARTED', 'STOPPING')
                    """, prepared: true)
                try db.execute("""
                    WITH step AS (
                        INSERT INTO batch_step_execution
                            (step_execution_id, version, step_name, job_execution_id, create_time, status,
                             commit_count, read_count, filter_count, write_count, read_skip_count,
                             write_skip_count, process_skip_count, rollback_count, exit_code, exit_message, last_updated)
                        VALUES (nextval('batch_step_execution_seq'), 0, \(manager.stepName + ":" + name),
                                \(jobExecution.id), \(now), 'STARTING', 0, 0, 0, 0, 0, 0, 0, 0, 'EXECUTING', '', \(now))
                        RETURNING step_execution_id
                    ), context AS (
                        INSERT INTO batch_step_execution_context (step_execution_id, short_context, serialized_context)
                        SELECT step_execution_id, \(try row.decode(String?.self, column: 5) ?? "{}"),
                               \(try row.decode(String?.self, column: 6))
                        FROM step
                    )
                    UPDATE batch_partition p SET step_execution_id = step.step_execution_id,
                        manager_step_execution_id = \(manager.id), job_execution_id = \(jobExecution.id),
                        state = 'READY', owner = NULL, attempt = 0, max_attempts = \(maxAttempts),
                        lease_expires_at = NULL, last_error = NULL, updated_at = now()
                    FROM step WHERE p.partition_id = \(id)
                    """, prepared: true)
            }
            if !workerStep.isEmpty { try db.notify(ClusterChannels.work, payload: workerStep) }
            return rows.count
        }
    }

    public func awaitPartitions(
        manager: StepExecution, workerStep: String, timeout: Duration?, reportEvery: Duration, logger: Logger,
        progress: (PartitionProgress) -> Void
    ) throws -> PartitionProgress {
        let clock = ContinuousClock()
        let deadline = timeout.map { clock.now.advanced(by: $0) }
        try connection.listen(ClusterChannels.partitionDone)
        defer { try? connection.unlisten(ClusterChannels.partitionDone) }
        var last: PartitionProgress?
        var lastReport = clock.now
        var lastSweep = clock.now - .seconds(60)
        var lastPoll = clock.now - .seconds(60)
        var total: Int?
        var pollCost = Duration.zero
        var firstPoll: (at: ContinuousClock.Instant, finished: Int)?
        while true {
            let current: PartitionProgress
            do {
                if clock.now - lastSweep >= .seconds(1) {
                    try failExpiredPartitions(manager: manager.id)
                    lastSweep = clock.now
                }
                // Completions arrive in bursts; one poll answers a whole burst. Polls are at
                // least 25 ms apart, and ten times their own cost apart, so the manager never
                // takes more than a tenth of a database core from the workers however many
                // partitions are open; and a twentieth of the time the rest should take at the
                // rate seen so far, so a long step is not polled 40 times a second. With only a
                // few left, each completion is answered at once: the last one is what the
                // whole job waits for.
                let sincePoll = clock.now - lastPoll
                let fewLeft = last.map { $0.total - $0.finished <= 8 } ?? false
                var spacing = max(.milliseconds(25), pollCost * 10)
                if let last, let firstPoll, last.finished > firstPoll.finished {
                    let perPartition = (lastPoll - firstPoll.at) / (last.finished - firstPoll.finished)
                    spacing = max(spacing, perPartition * (last.total - last.finished) / 20)
                }
                spacing = min(spacing, .seconds(1))
                if sincePoll < spacing && !fewLeft {
                    Thread.sleep(forTimeInterval: (spacing - sincePoll).inSeconds)
                }
                lastPoll = clock.now
                if total == nil {
                    total = Int(try connection.query("""
                        SELECT count(*) FROM batch_partition WHERE manager_step_execution_id = \(manager.id)
                        """).single().decode(Int64.self, column: 0))
                }
                current = try partitionProgress(manager: manager.id, workerStep: workerStep, total: total ?? 0)
                pollCost = clock.now - lastPoll
                if firstPoll == nil { firstPoll = (lastPoll, current.finished) }
            } catch let error as PostgresError where error.isConnectionLost {
                // The workers ride out a database restart; so does the manager. Nothing is lost
                // meanwhile: completions are rows, and the first poll after reconnecting sees them.
                try reconnectToAwait(after: error, deadline: deadline, logger: logger)
                continue
            }
            if current != last || clock.now - lastReport >= reportEvery {
                progress(current)
                last = current
                lastReport = clock.now
            }
            if current.isFinished { return current }
            if let deadline, clock.now >= deadline {
                // The step fails now; partitions nobody claimed yet must not run under a failed
                // execution (a restart makes them ready again). Claimed ones end at their next
                // commit or lease, as for any failed job.
                try failUnclaimedPartitions(manager: manager.id, reason: "not run: step \(manager.stepName) timed out first")
                throw PartitionTimeout(step: manager.stepName, progress: current)
            }
            // A notice wakes the manager at once; without one it polls every second.
            var wait = Duration.seconds(1)
            if let deadline { wait = min(wait, max(.milliseconds(1), clock.now.duration(to: deadline))) }
            do {
                if try connection.nextNotification(timeout: wait) != nil {
                    while try connection.nextNotification(timeout: .zero) != nil {}
                }
            } catch let error as PostgresError where error.isConnectionLost {
                try reconnectToAwait(after: error, deadline: deadline, logger: logger)
            }
        }
    }

    /// How long a manager keeps trying to reach a database that went away before its step fails.
    static let managerReconnectLimit = Duration.seconds(300)

    /// Reconnects with backoff (up to ``managerReconnectLimit``, or the step's deadline) and
    /// listens again.
    private func reconnectToAwait(after error: PostgresError, deadline: ContinuousClock.Instant?, logger: Logger) throws {
        logger.warning("lost the repository connection while awaiting partitions; reconnecting", metadata: ["batch.error": "\(error)"])
        try reconnectAsManager(until: deadline, doing: "awaiting partitions") {
            try connection.listen(ClusterChannels.partitionDone)
        }
        logger.notice("reconnected to the repository; awaiting partitions again")
    }

    /// Reconnects with backoff, for at most ``managerReconnectLimit`` (or until `deadline`),
    /// then runs `resume` on the new session; a connection lost again meanwhile is retried.
    ///
    /// - Throws: a ``JobRepositoryError`` naming what the manager was `doing` when it gives up.
    func reconnectAsManager<Result>(
        until deadline: ContinuousClock.Instant? = nil, doing: String, resume: () throws -> Result
    ) throws -> Result {
        let clock = ContinuousClock()
        let giveUp = min(deadline ?? clock.now + Self.managerReconnectLimit, clock.now + Self.managerReconnectLimit)
        var backoff = Duration.milliseconds(100)
        while true {
            do {
                try connection.reconnect()
                return try resume()
            } catch let retry as PostgresError where retry.isConnectionLost {
                guard clock.now + backoff < giveUp else {
                    throw JobRepositoryError(
                        message: "lost the repository while \(doing) and could not reconnect: \(retry)")
                }
                Thread.sleep(forTimeInterval: backoff.inSeconds)
                backoff = min(backoff * 2, .seconds(5))
            }
        }
    }

    /// The one query the manager polls. It reads only what is still open or went wrong: the
    /// unfinished partitions (through the claimable partial index) and the failed or stopped
    /// ones, so a poll costs the same at the end of 100,000 partitions as of 10. `total` is
    /// counted once per wait.
    func partitionProgress(manager: Int64, workerStep: String, total: Int) throws -> PartitionProgress {
        let row = try connection.query("""
            SELECT (SELECT count(*) FROM batch_partition
                    WHERE worker_step = \(workerStep) AND state IN ('READY', 'CLAIMED') AND manager_step_execution_id = \(manager)),
                   (SELECT count(*) FROM batch_partition
                    WHERE worker_step = \(workerStep) AND state = 'CLAIMED' AND manager_step_execution_id = \(manager)),
                   (SELECT count(*) FROM batch_partition WHERE manager_step_execution_id = \(manager) AND state = 'STOPPED'),
                   (SELECT coalesce(array_to_string(array_agg(partition_name ORDER BY partition_name), ', '), '')
                    FROM batch_partition WHERE manager_step_execution_id = \(manager) AND state = 'FAILED'),
                   (SELECT count(*) FROM batch_worker w
                    WHERE w.state = 'RUNNING' AND w.heartbeat_at > now() - interval '30 seconds'
                      AND (w.steps = '*' OR \(workerStep) = ANY (string_to_array(w.steps, ','))
                           OR split_part(\(workerStep), '/', 1) = ANY (string_to_array(w.steps, ','))))
            """, prepared: true).single()
        var progress = PartitionProgress()
        progress.total = total
        let open = Int(try row.decode(Int64.self, column: 0))
        progress.running = Int(try row.decode(Int64.self, column: 1))
        progress.stopped = Int(try row.decode(Int64.self, column: 2))
        let names = try row.decode(String.self, column: 3)
        progress.failedNames = names.isEmpty ? [] : names.components(separatedBy: ", ")
        progress.failed = progress.failedNames.count
        progress.completed = total - open - progress.failed - progress.stopped
        progress.liveWorkers = Int(try row.decode(Int64.self, column: 4))
        return progress
    }

    /// Partitions whose lease ran out on their last allowed attempt are FAILED, saying why.
    /// Both managers (their own partitions) and workers (all) sweep, so nothing waits on a
    /// worker that died for good. Each form is its own statement so each uses its index.
    func failExpiredPartitions(manager: Int64? = nil) throws {
        let expired: String
        var bindings = PostgresBindings()
        if let manager {
            bindings.append(manager)
            expired = "manager_step_execution_id = $1 AND state = 'CLAIMED'"
        } else {
            expired = "state IN ('READY', 'CLAIMED') AND state = 'CLAIMED'"
        }
        try connection.execute(PostgresQuery(
            unsafeSQL: """
                WITH expired AS (
                    UPDATE batch_partition SET state = 'FAILED', updated_at = now(),
                        last_error = 'its worker (' || coalesce(owner, '?') || ') stopped renewing the lease on attempt '
                                     || attempt || ' of ' || max_attempts
                    WHERE \(expired) AND lease_expires_at < now() AND attempt >= max_attempts
                    RETURNING step_execution_id, last_error
                ), steps AS (
                    UPDATE batch_step_execution s SET status = 'FAILED', exit_code = 'FAILED',
                        exit_message = expired.last_error, end_time = now() AT TIME ZONE 'UTC', version = s.version + 1
                    FROM expired WHERE s.step_execution_id = expired.step_execution_id
                )
                SELECT pg_notify('\(ClusterChannels.partitionDone)', '') FROM expired LIMIT 1
                """,
            bindings: bindings), prepared: true)
    }

    /// Fails the manager's partitions that no worker has claimed, with their step executions.
    func failUnclaimedPartitions(manager: Int64, reason: String) throws {
        try connection.execute("""
            WITH unclaimed AS (
                UPDATE batch_partition SET state = 'FAILED', updated_at = now(), last_error = \(reason)
                WHERE manager_step_execution_id = \(manager) AND state = 'READY'
                RETURNING step_execution_id
            )
            UPDATE batch_step_execution s SET status = 'FAILED', exit_code = 'FAILED', exit_message = \(reason),
                end_time = now() AT TIME ZONE 'UTC', version = s.version + 1
            FROM unclaimed WHERE s.step_execution_id = unclaimed.step_execution_id
            """)
    }

    public func partitionCounts(manager: StepExecution) throws -> StepCounts {
        let row = try connection.query("""
            SELECT coalesce(sum(s.read_count), 0)::bigint, coalesce(sum(s.write_count), 0)::bigint,
                   coalesce(sum(s.filter_count), 0)::bigint, coalesce(sum(s.read_skip_count), 0)::bigint,
                   coalesce(sum(s.process_skip_count), 0)::bigint, coalesce(sum(s.write_skip_count), 0)::bigint,
                   coalesce(sum(s.commit_count), 0)::bigint, coalesce(sum(s.rollback_count), 0)::bigint
            FROM batch_partition p JOIN batch_step_execution s ON s.step_execution_id = p.step_execution_id
            WHERE p.manager_step_execution_id = \(manager.id)
            """).single()
        let (read, write, filter, readSkip, processSkip, writeSkip, commit, rollback) =
            try row.decode((Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64).self)
        return StepCounts(
            read: read, write: write, filter: filter, readSkip: readSkip, processSkip: processSkip,
            writeSkip: writeSkip, commit: commit, rollback: rollback)
    }
}
