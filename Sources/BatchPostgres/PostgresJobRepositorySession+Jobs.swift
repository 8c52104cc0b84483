import Batch
import Foundation
import PostgresClient

extension PostgresJobRepositorySession {
    // MARK: - Jobs

    public func update(_ execution: inout JobExecution) throws {
        guard execution.status.isRunning == false else {
            try write(&execution)
            standbysToConfirm = max(standbysToConfirm, streamingStandbys())
            return
        }
        // A job's end that meets a lost connection (its COMMIT waiting for a synchronous standby
        // when the primary went away, say) is not trusted to have landed, nor what it counted
        // to be there: once reconnected (to whichever server the URL finds), it is written only
        // if the server holds every step and partition of the execution ended, else the launch
        // fails saying so (launching the instance again attaches to it and finishes it).
        let clock = ContinuousClock()
        let giveUp = clock.now + .seconds(120)
        var backoff = Duration.milliseconds(100)
        var reconnected = false
        while true {
            do {
                if reconnected {
                    // Another server now, maybe without standbys: wait for its own.
                    standbysToConfirm = streamingStandbys()
                    try checkEndedOnServer(execution)
                }
                if standbysToConfirm == 0 { standbysToConfirm = streamingStandbys() }
                try write(&execution)
                // With asynchronous standbys, an end the primary acknowledged may still be lost
                // to a failover: it is reported only once they have it (or the wait's bound ran
                // out); a connection lost meanwhile is a failover, checked as above.
                return try confirmOnStandbys(expected: standbysToConfirm)
            } catch let error where Self.isConnectionLost(error) && clock.now + backoff < giveUp {
                Thread.sleep(forTimeInterval: backoff.inSeconds)
                backoff = min(backoff * 2, .seconds(5))
                try? connection.reconnect()
                reconnected = true
            }
        }
    }

    /// Throws unless every step execution of `execution` (partitions included) has ended on
    /// the server this session reaches now.
    private func checkEndedOnServer(_ execution: JobExecution) throws {
        let open = try connection.query("""
            SELECT (SELECT count(*) FROM batch_job_execution WHERE job_execution_id = \(execution.id)),
                   (SELECT count(*) FROM batch_step_execution
                    WHERE job_execution_id = \(execution.id) AND status IN ('STARTING', 'STARTED', 'STOPPING'))
            """).single().decode((Int64, Int64).self)
        guard open.0 == 1 else {
            throw JobRepositoryError(message: "job execution \(execution.id) is no longer in the job repository after a reconnect (it failed over to a standby that had not received it?): launch the job again")
        }
        guard open.1 == 0 else { throw StepEndsLost(executionID: execution.id, running: open.1) }
    }

    /// A lost session, whether a statement or the COMMIT itself met it.
    static func isConnectionLost(_ error: any Error) -> Bool {
        (error as? PostgresError)?.isConnectionLost == true || (error as? PostgresTransactionError)?.isConnectionLost == true
    }

    private func write(_ execution: inout JobExecution) throws {
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
            // Queued: it goes out with the COMMIT.
            try db.queue("""
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

}
