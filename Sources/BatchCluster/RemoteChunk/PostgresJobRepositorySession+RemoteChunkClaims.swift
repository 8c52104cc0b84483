import Batch
import BatchPostgres
import Foundation
import PostgresClient

/// A remote chunk a worker claimed.
public struct ClaimedRemoteChunk: Sendable {
    public var chunkID: Int64
    public var stepExecutionID: Int64
    public var jobExecutionID: Int64
    public var workerStep: String
    public var request: RemoteChunkRequest
}

/// What a worker holds while it processes a claimed chunk: every write of the chunk is guarded
/// by its owner and attempt, so a worker that lost its lease commits nothing.
public struct RemoteChunkFence: Sendable, Hashable {
    public var chunkID: Int64
    public var owner: String
    public var attempt: Int
    public var seq: Int
    public var workerStep: String

    public init(chunkID: Int64, owner: String, attempt: Int, seq: Int, workerStep: String) {
        self.chunkID = chunkID
        self.owner = owner
        self.attempt = attempt
        self.seq = seq
        self.workerStep = workerStep
    }
}

/// The chunk's claim was lost (its lease ran out and another worker claimed it): the
/// transaction that found out was rolled back, nothing of it was kept.
public struct RemoteChunkLeaseLost: Error, CustomStringConvertible {
    public var fence: RemoteChunkFence
    public var description: String {
        "lost the lease of remote chunk \(fence.seq) of \(fence.workerStep) (attempt \(fence.attempt)): another worker owns it now; nothing was committed"
    }
}

extension PostgresJobRepositorySession {
    /// Claims up to `limit` remote chunks of the given worker steps: ready ones, and ones whose
    /// lease expired with attempts left (the re-send of a dead or paused worker's chunk). One
    /// statement; concurrent workers skip each other's locked rows.
    public func claimRemoteChunks(workerID: String, steps: [String], limit: Int, leaseSeconds: Double) throws
        -> [ClaimedRemoteChunk]
    {
        guard limit > 0, !steps.isEmpty else { return [] }
        return try connection.query("""
            WITH candidates AS MATERIALIZED (
                SELECT c.chunk_id
                FROM unnest(string_to_array(\(steps.joined(separator: ",")), ',')) AS served(step)
                CROSS JOIN LATERAL (
                    SELECT chunk_id FROM batch_remote_chunk
                    WHERE worker_step = served.step AND state IN ('READY', 'CLAIMED')
                      AND (state = 'READY' OR (lease_expires_at < now() AND attempt < max_attempts))
                    ORDER BY worker_step, state, chunk_id
                    LIMIT \(limit)
                    FOR UPDATE SKIP LOCKED
                ) c
                LIMIT \(limit)
            )
            UPDATE batch_remote_chunk r SET state = 'CLAIMED', owner = \(workerID), attempt = r.attempt + 1,
                lease_expires_at = now() + make_interval(secs => \(leaseSeconds)), updated_at = now()
            FROM candidates picked
            WHERE r.chunk_id = picked.chunk_id
            RETURNING r.chunk_id, r.step_execution_id, r.job_execution_id, r.worker_step, r.seq, r.attempt,
                      r.items, r.item_count
            """, prepared: true).map { row in
            let (id, step, job, workerStep, seq, attempt, items, count) =
                try row.decode((Int64, Int64, Int64, String, Int, Int, String, Int).self)
            return ClaimedRemoteChunk(
                chunkID: id, stepExecutionID: step, jobExecutionID: job, workerStep: workerStep,
                request: RemoteChunkRequest(seq: seq, attempt: attempt, items: items, itemCount: count))
        }
    }

    /// Renews the leases of the chunks a worker is processing (`held`: their claims). A chunk
    /// whose row a slot of this worker holds locked (it is writing the chunk, which ends the
    /// claim) is skipped, never waited for.
    @discardableResult
    public func renewRemoteChunkLeases(workerID: String, leaseSeconds: Double, held: [RemoteChunkFence]) throws -> Int {
        guard !held.isEmpty else { return 0 }
        let claims = held.map { "\($0.chunkID):\($0.attempt)" }.joined(separator: ",")
        return try connection.query("""
            UPDATE batch_remote_chunk r SET lease_expires_at = now() + make_interval(secs => \(leaseSeconds))
            FROM (
                SELECT chunk_id FROM batch_remote_chunk
                WHERE (chunk_id, attempt) IN (
                        SELECT split_part(claim, ':', 1)::bigint, split_part(claim, ':', 2)::int
                        FROM unnest(string_to_array(\(claims), ',')) claim)
                  -- IS TRUE: by primary key, never through the claimable index, whose predicate a
                  -- bare state = 'CLAIMED' satisfies (it would walk every claim since the last vacuum).
                  AND owner = \(workerID) AND (state = 'CLAIMED') IS TRUE
                FOR UPDATE SKIP LOCKED
            ) renewable
            WHERE r.chunk_id = renewable.chunk_id
            """, prepared: true).affectedRows
    }

    /// Writes a processed chunk and ends it DONE with its reply, in one transaction: first the
    /// chunk's row is locked under the claim (no row: the lease was lost, nothing is written),
    /// then `processed.write` runs in the transaction, then the row records the reply and the
    /// manager is woken at commit.
    ///
    /// - Throws: ``RemoteChunkLeaseLost`` when the claim is no longer this worker's; whatever the
    ///   writer threw. Either way the transaction was rolled back.
    public func completeRemoteChunk(
        _ processed: ProcessedRemoteChunk, fence: RemoteChunkFence, stepName: String, parameters: JobParameters
    ) throws {
        try connection.withTransaction { db in
            let chunk = try lockClaim(fence, db)
            let transaction = PostgresStepTransaction(connection: db)
            let context = ChunkContext(
                transaction: transaction, stepName: stepName, parameters: parameters,
                stepContext: ExecutionContext())
            let writeSkips = try processed.write(context)
            let skips = processed.skipped + writeSkips
            if !skips.isEmpty {
                try checkSkipLimit(skips, limit: processed.skipLimit, stepExecutionID: chunk.stepExecutionID, db)
                for skip in skips {
                    try transaction.recordSkip(SkippedItem(
                        jobExecutionID: chunk.jobExecutionID, stepExecutionID: chunk.stepExecutionID, stepName: stepName,
                        phase: skip.phase, itemKey: skip.itemKey, reason: skip.reason))
                }
            }
            try db.execute("""
                WITH done AS (
                    UPDATE batch_remote_chunk SET state = 'DONE', items = NULL, lease_expires_at = NULL,
                        write_count = \(processed.written - writeSkips.count), filter_count = \(processed.filtered),
                        process_skip_count = \(processed.skipped.count), write_skip_count = \(writeSkips.count),
                        updated_at = now()
                    WHERE chunk_id = \(fence.chunkID)
                    RETURNING worker_step
                )
                SELECT pg_notify(\(ClusterChannels.remoteChunkDone), worker_step) FROM done
                """, prepared: true)
        }
    }

    /// Ends a chunk FAILED with `reason`, under the claim; its items stay for a restart.
    ///
    /// - Throws: ``RemoteChunkLeaseLost`` when the claim is no longer this worker's.
    public func failRemoteChunk(fence: RemoteChunkFence, reason: String) throws {
        let failed = try connection.execute("""
            WITH failed AS (
                UPDATE batch_remote_chunk SET state = 'FAILED', last_error = \(String(reason.prefix(2500))),
                    lease_expires_at = NULL, updated_at = now()
                WHERE chunk_id = \(fence.chunkID) AND owner = \(fence.owner) AND attempt = \(fence.attempt)
                  AND (state = 'CLAIMED') IS TRUE
                RETURNING worker_step
            )
            SELECT pg_notify(\(ClusterChannels.remoteChunkDone), worker_step) FROM failed
            """, prepared: true)
        if failed == 0 { throw RemoteChunkLeaseLost(fence: fence) }
    }

    /// Any worker sweeps every step's chunks whose lease ran out on their last attempt.
    public func sweepExpiredRemoteChunks() throws {
        try failExpiredRemoteChunks(manager: nil)
    }

    /// Locks the chunk's row if the claim is still this worker's: another worker's claim now
    /// skips it until this transaction ends (and then finds it DONE), and this one cannot
    /// commit after another's. Returns the manager step execution and job execution it belongs to
    /// now (a restart of the step may have adopted it since the claim).
    private func lockClaim(_ fence: RemoteChunkFence, _ db: PostgresConnection) throws
        -> (stepExecutionID: Int64, jobExecutionID: Int64)
    {
        guard let row = try db.query("""
            SELECT step_execution_id, job_execution_id FROM batch_remote_chunk
            WHERE chunk_id = \(fence.chunkID) AND owner = \(fence.owner) AND attempt = \(fence.attempt) AND (state = 'CLAIMED') IS TRUE
            FOR UPDATE
            """, prepared: true).first
        else { throw RemoteChunkLeaseLost(fence: fence) }
        return try row.decode((Int64, Int64).self)
    }

    /// Throws ``SkipLimitExceeded``, naming the first of `skips` that is one too many, when the
    /// step's DONE chunks and this one skipped more items than `limit` allows. Chunks with skips
    /// of one step take turns here (a transaction-scoped advisory lock), so two committing at
    /// once cannot both pass on the same count. Chunks without skips never wait.
    private func checkSkipLimit(_ skips: [RemoteChunkSkip], limit: Int, stepExecutionID: Int64, _ db: PostgresConnection) throws {
        // Two statements: a statement's snapshot is taken when it starts, so the count must be
        // read by the statement after the one that waited for the lock, to see the commit of
        // the chunk that held it.
        try db.execute("""
            SELECT pg_advisory_xact_lock(\(Self.skipLockClass), hashtext(\(String(stepExecutionID))))
            """, prepared: true)
        let before = try db.query("""
            SELECT coalesce(sum(process_skip_count + write_skip_count), 0)::bigint FROM batch_remote_chunk
            WHERE step_execution_id = \(stepExecutionID) AND state = 'DONE'
            """, prepared: true).single().decode(Int64.self, column: 0)
        let allowed = max(0, limit - Int(before))
        guard skips.count > allowed else { return }
        let extra = skips[allowed]
        throw SkipLimitExceeded(limit: limit, phase: extra.phase, itemKey: extra.itemKey, reason: extra.reason)
    }

    /// The first key of the advisory locks that order skip-limit checks ("SB" for SwiftBatch).
    static let skipLockClass: Int32 = 0x5342
}
