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
}
