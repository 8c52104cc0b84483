import Batch
import BatchPostgres
import Foundation
import Logging
import PostgresClient

/// The manager side of remote chunking, on `batch_remote_chunk`.
extension PostgresJobRepositorySession: RemoteChunkChannel {
    public func adoptRemoteChunks(manager: StepExecution, jobExecution: JobExecution, workerStep: String) throws
        -> (nextSeq: Int, failed: [FailedRemoteChunk])
    {
        try connection.withTransaction { db in
            // Durable before any chunk is sent: the counts of a manager that reconnects after a
            // database crash sum the chunks it adopted.
            try commitDurably(db)
            // Every chunk this step sent in any attempt of the instance: they all count in its
            // totals, and the ones not done must end before it does. A chunk held by a worker
            // keeps its claim (owner, attempt): the holder's fenced commit still goes through.
            try db.execute("""
                UPDATE batch_remote_chunk r SET step_execution_id = \(manager.id), job_execution_id = \(jobExecution.id),
                    updated_at = now()
                FROM batch_step_execution s, batch_job_execution e
                WHERE r.step_execution_id = s.step_execution_id AND s.job_execution_id = e.job_execution_id
                  AND e.job_instance_id = \(jobExecution.instance.id) AND s.step_name = \(manager.stepName)
                  AND r.step_execution_id <> \(manager.id)
                """, prepared: true)
            let next = try db.query("""
                SELECT coalesce(max(seq) + 1, 0) FROM batch_remote_chunk WHERE step_execution_id = \(manager.id)
                """, prepared: true).single().decode(Int64.self, column: 0)
            let failed = try db.query("""
                SELECT seq, item_count, start_context FROM batch_remote_chunk
                WHERE step_execution_id = \(manager.id) AND state = 'FAILED' ORDER BY seq
                """, prepared: true).map { row in
                let (seq, count, context) = try row.decode((Int, Int, String).self)
                return FailedRemoteChunk(seq: seq, itemCount: count, startContext: try ExecutionContext(short: context, serialized: nil))
            }
            try db.notify(ClusterChannels.work, payload: workerStep)
            return (Int(next), failed)
        }
    }

    public func resendRemoteChunk(
        in transaction: any StepTransaction, manager: StepExecution, seq: Int, items: String, itemCount: Int
    ) throws {
        guard let transaction = transaction as? PostgresStepTransaction else {
            throw JobRepositoryError(message: "a remote chunk must be sent in the PostgreSQL repository's transaction")
        }
        try transaction.connection.execute("""
            WITH chunk AS (
                UPDATE batch_remote_chunk SET state = 'READY', items = \(items), item_count = \(itemCount), owner = NULL,
                    attempt = 0, lease_expires_at = NULL, last_error = NULL, write_count = 0, filter_count = 0,
                    updated_at = now()
                WHERE step_execution_id = \(manager.id) AND seq = \(seq) AND state = 'FAILED'
                RETURNING worker_step
            )
            SELECT pg_notify(\(ClusterChannels.work), worker_step) FROM chunk
            """, prepared: true)
    }

    public func sendRemoteChunk(
        in transaction: any StepTransaction, manager: StepExecution, workerStep: String, seq: Int,
        items: String, itemCount: Int, startContext: ExecutionContext, maxAttempts: Int
    ) throws {
        guard let transaction = transaction as? PostgresStepTransaction else {
            throw JobRepositoryError(message: "a remote chunk must be sent in the PostgreSQL repository's transaction")
        }
        // The send need not wait for its WAL flush: a server crash that lost it loses the
        // manager's checkpoint with it (the restart sends the chunk again), and a worker's reply
        // comes after it in the WAL, so no crash can keep the reply and lose the send. One
        // fsync a chunk fewer.
        try transaction.connection.execute("SET LOCAL synchronous_commit = off", prepared: true)
        // The notice is delivered at commit, with the chunk.
        try transaction.connection.execute("""
            WITH chunk AS (
                INSERT INTO batch_remote_chunk
                    (step_execution_id, job_execution_id, seq, worker_step, items, item_count, start_context, max_attempts)
                VALUES (\(manager.id), \(manager.jobExecutionID), \(seq), \(workerStep), \(items), \(itemCount),
                        \(startContext.jsonText), \(maxAttempts))
                RETURNING worker_step
            )
            SELECT pg_notify(\(ClusterChannels.work), worker_step) FROM chunk
            """, prepared: true)
    }

    public func awaitRemoteChunks(
        manager: StepExecution, workerStep: String, maxOpen: Int, untilFailure: Bool, logger: Logger,
        progress: (RemoteChunkProgress) -> Void
    ) throws -> RemoteChunkProgress {
        let clock = ContinuousClock()
        try listenUnlessPooled(ClusterChannels.remoteChunkDone)
        // The session stays subscribed until it closes (a launch's session ends with the launch):
        // an UNLISTEN here would be one more round trip between the last completion and the
        // step's end. A notice that arrives later wakes the session's next wait once, which polls.
        var last: RemoteChunkProgress?
        var lastReport = clock.now - .seconds(60)
        var lastSweep = clock.now - .seconds(60)
        while true {
            if clock.now - lastSweep >= .seconds(1) {
                try failExpiredRemoteChunks(manager: manager.id)
                lastSweep = clock.now
            }
            let current = try remoteChunkProgress(manager: manager.id, workerStep: workerStep)
            // Reported when it changed (at most once a second) and every 5 seconds.
            let since = clock.now - lastReport
            if (current != last && since >= .seconds(1)) || since >= .seconds(5) {
                progress(current)
                lastReport = clock.now
            }
            last = current
            if current.open <= maxOpen || (untilFailure && current.failed > 0) { return current }
            // A worker's notice wakes the manager at once; without one it polls every second
            // (every 50 ms through a transaction-mode pooler, where no notice comes).
            if try connection.nextNotification(timeout: noticeWait(.seconds(1))) != nil {
                while try connection.nextNotification(timeout: .zero) != nil {}
            }
        }
    }

    /// The manager's one progress query. It reads only what is open or went wrong: the chunks in
    /// flight (through the claimable partial index), the failed ones (through theirs), and the
    /// last sequence number (sequence numbers are dense from 0: the total); so a poll costs the
    /// same at the end of 100,000 chunks as of 10.
    func remoteChunkProgress(manager: Int64, workerStep: String) throws -> RemoteChunkProgress {
        let row = try connection.query("""
            SELECT (SELECT coalesce(max(seq) + 1, 0) FROM batch_remote_chunk WHERE step_execution_id = \(manager)),
                   (SELECT count(*) FROM batch_remote_chunk
                    WHERE worker_step = \(workerStep) AND state IN ('READY', 'CLAIMED') AND step_execution_id = \(manager)),
                   (SELECT count(*) FROM batch_remote_chunk
                    WHERE worker_step = \(workerStep) AND state = 'CLAIMED' AND step_execution_id = \(manager)),
                   (SELECT count(*) FROM batch_remote_chunk WHERE step_execution_id = \(manager) AND state = 'FAILED'),
                   (SELECT coalesce(string_agg(f, '; '), '') FROM (
                        SELECT 'chunk ' || seq || ' (' || item_count || ' items, attempt ' || attempt || ' by '
                               || coalesce(owner, '?') || '): ' || coalesce(last_error, '?') AS f
                        FROM batch_remote_chunk WHERE step_execution_id = \(manager) AND state = 'FAILED'
                        ORDER BY seq LIMIT 3) failed),
                   (SELECT count(*) FROM batch_worker w
                    WHERE w.state = 'RUNNING' AND w.heartbeat_at > now() - make_interval(secs => w.lease_seconds)
                      AND (w.steps = '*' OR \(workerStep) = ANY (string_to_array(w.steps, ','))
                           OR split_part(\(workerStep), '/', 1) = ANY (string_to_array(w.steps, ','))))
            """, prepared: true).single()
        var progress = RemoteChunkProgress()
        let (total, open, claimed, failed) = try row.decode((Int64, Int64, Int64, Int64).self)
        progress.total = Int(total)
        progress.open = Int(open)
        progress.claimed = Int(claimed)
        progress.failed = Int(failed)
        progress.done = progress.total - progress.open - progress.failed
        let failures = try row.decode(String.self, column: 4)
        progress.failures = failures.isEmpty ? [] : failures.components(separatedBy: "; ")
        progress.liveWorkers = Int(try row.decode(Int64.self, column: 5))
        return progress
    }

    public func resumeRemoteChunks(after error: any Error, manager: StepExecution, logger: Logger) throws
        -> (execution: StepExecution, nextSeq: Int)
    {
        guard PostgresError.isConnectionLost(error) else { throw error }
        logger.warning("lost the repository connection while sending remote chunks; reconnecting", metadata: ["batch.error": "\(error)"])
        return try reconnectAsManager(doing: "sending remote chunks") {
            // The chunk in hand may or may not have committed: the step's saved context and
            // the chunk rows say which, and they always agree (one transaction).
            guard let saved = try stepExecution(id: manager.id) else {
                throw JobRepositoryError(message: "step execution \(manager.id) vanished while reconnecting")
            }
            let next = try connection.query("""
                SELECT coalesce(max(seq) + 1, 0) FROM batch_remote_chunk WHERE step_execution_id = \(manager.id)
                """, prepared: true).single().decode(Int64.self, column: 0)
            logger.notice("reconnected to the repository; sending on from the last committed chunk", metadata: [
                "batch.remote.next_chunk": "\(next)",
            ])
            return (saved, Int(next))
        }
    }

    public func remoteChunkCounts(manager: StepExecution) throws -> StepCounts {
        let (read, write, filter, processSkip, writeSkip, commit) = try connection.query("""
            SELECT coalesce(sum(item_count), 0)::bigint,
                   coalesce(sum(write_count) FILTER (WHERE state = 'DONE'), 0)::bigint,
                   coalesce(sum(filter_count) FILTER (WHERE state = 'DONE'), 0)::bigint,
                   coalesce(sum(process_skip_count) FILTER (WHERE state = 'DONE'), 0)::bigint,
                   coalesce(sum(write_skip_count) FILTER (WHERE state = 'DONE'), 0)::bigint,
                   count(*) FILTER (WHERE state = 'DONE')
            FROM batch_remote_chunk WHERE step_execution_id = \(manager.id)
            """, prepared: true).single().decode((Int64, Int64, Int64, Int64, Int64, Int64).self)
        return StepCounts(
            read: read, write: write, filter: filter, processSkip: processSkip, writeSkip: writeSkip, commit: commit)
    }

    /// Chunks whose lease ran out on their last allowed attempt are FAILED, saying why. The
    /// manager sweeps its own; workers sweep all, through the owner's function (migration 13), as
    /// for partitions.
    func failExpiredRemoteChunks(manager: Int64?) throws {
        try connection.execute("SELECT batch_fail_expired_remote_chunks(\(manager))", prepared: true)
    }
}
