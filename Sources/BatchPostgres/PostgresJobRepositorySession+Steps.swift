import Batch
import Foundation
import PostgresClient

extension PostgresJobRepositorySession {
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

    /// The step execution with this id as last committed, or nil.
    public func stepExecution(id: Int64) throws -> StepExecution? {
        try connection.query("""
            SELECT \(unsafeRaw: Self.stepColumns)
            FROM batch_step_execution s
            LEFT JOIN batch_step_execution_context c ON c.step_execution_id = s.step_execution_id
            WHERE s.step_execution_id = \(id)
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
            // Queued: it goes out with the COMMIT.
            try db.queue("""
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
        try update(&execution, guardedBy: UnguardedSave())
    }

    /// Saves a step execution outside any chunk (at its start and end), under `saveGuard`.
    ///
    /// - Returns: what the guard reports of the save.
    @discardableResult
    public func update<Guard: StepCommitGuard>(_ execution: inout StepExecution, guardedBy saveGuard: Guard) throws
        -> Guard.Outcome
    {
        var saved = execution
        // One statement, atomic on its own: no transaction block around it.
        let outcome = try saveGuard.save(&saved, on: connection).outcome
        execution = saved
        return outcome
    }

    public func inChunkTransaction<Result>(
        _ execution: inout StepExecution,
        _ body: (any StepTransaction, inout StepExecution) throws -> Result
    ) throws -> (Result, jobStatus: BatchStatus) {
        let (result, jobStatus, _) = try inChunkTransaction(&execution, guardedBy: UnguardedSave(), body)
        return (result, jobStatus)
    }

    /// ``inChunkTransaction(_:_:)`` with the step's save under `saveGuard`: the chunk's output,
    /// checkpoint and counts commit only if the guard holds at commit.
    ///
    /// - Returns: the value of `body`, the job execution's status as of the commit, and what the
    ///   guard reports of the save (only ever of a committed one).
    public func inChunkTransaction<Result, Guard: StepCommitGuard>(
        _ execution: inout StepExecution, guardedBy saveGuard: Guard,
        _ body: (any StepTransaction, inout StepExecution) throws -> Result
    ) throws -> (Result, jobStatus: BatchStatus, outcome: Guard.Outcome) {
        var working = execution
        // BEGIN is sent only if the chunk touches the database: a tasklet call that does not
        // commits its counts and checkpoint (and, for a partition, its end) in one statement.
        let (result, saved) = try connection.withDeferredTransaction { deferred in
            let result = try body(PostgresStepTransaction(deferred: deferred), &working)
            return (result, try saveGuard.save(&working, on: deferred.finalStatementConnection))
        }
        execution = working
        return (result, saved.jobStatus, saved.outcome)
    }
}
