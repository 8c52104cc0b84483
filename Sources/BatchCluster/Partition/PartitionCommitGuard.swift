import Batch
import BatchPostgres
import Foundation
import PostgresClient

/// The guard of every save of a claimed partition's step execution: the save goes through only
/// while the claim (owner and attempt) is still the worker's, and renews its lease in the same
/// statement. A save that ends the partition sets its state there too, wakes whom the end
/// concerns, and may claim the worker's next partition: a short partition's end and the next
/// claim are one round trip.
public struct PartitionCommitGuard: StepCommitGuard {
    /// What the save does to the partition besides renewing the claim.
    public enum End: Sendable {
        /// A chunk in progress, or a step's start: the lease is renewed, nothing ends.
        case renew
        /// A chunk commit: when the step saves itself COMPLETED (a tasklet's last call), the
        /// partition ends COMPLETED with it, claiming the next one with `claimNext`.
        case whenCompleted(claimNext: ClaimRequest?)
        /// The partition ends as `finish` says, claiming the next one with `claimNext` (unless
        /// it is handed back: a worker that hands back is leaving).
        case finish(PartitionFinish, claimNext: ClaimRequest?)
    }

    public var fence: PartitionFence
    public var end: End

    public init(fence: PartitionFence, end: End) {
        self.fence = fence
        self.end = end
    }

    /// What a save under the guard did.
    public struct Outcome: Sendable {
        /// Whether the save ended the partition.
        public var ended: Bool
        /// The partition the same statement claimed next, whose lease runs from now.
        public var next: ClaimedPartition?
    }

    /// How `execution`'s save ends the partition, if it does, and what it claims next.
    func finishing(_ execution: StepExecution) -> (finish: PartitionFinish, claimNext: ClaimRequest?)? {
        switch end {
        case .renew:
            return nil
        case .whenCompleted(let claimNext):
            guard execution.status == .completed else { return nil }
            return (PartitionFinish(outcome: .completed, workerStep: fence.workerStep), claimNext)
        case .finish(let finish, let claimNext):
            return (finish, finish.claimsNext ? claimNext : nil)
        }
    }

    public func save(_ execution: inout StepExecution, on db: PostgresConnection) throws
        -> (jobStatus: BatchStatus, outcome: Outcome)
    {
        let finishing = finishing(execution)
        let finish = finishing?.finish
        let claimNext = finishing?.claimNext
        // No served steps, no candidates: the claim's part of the statement reads nothing.
        let claimSteps = claimNext?.steps.joined(separator: ",") ?? ""
        let state = finish?.state.rawValue
        let now = StepSaveSQL.now()
        let row: PostgresRow
        do {
            row = try db.query("""
            WITH lease AS (
                -- A chunk renews the lease; a finish sets the partition's state instead.
                UPDATE batch_partition SET updated_at = now(),
                    lease_expires_at = CASE WHEN \(state)::text IS NULL THEN now() + make_interval(secs => \(fence.leaseSeconds))
                                            WHEN \(state)::text = 'READY' THEN NULL ELSE lease_expires_at END,
                    state = coalesce(\(state)::text, state),
                    last_error = CASE WHEN \(state)::text IS NULL THEN last_error ELSE \(finish?.error)::text END,
                    owner = CASE WHEN \(state)::text = 'READY' THEN NULL ELSE owner END,
                    attempt = CASE WHEN \(state)::text = 'READY' THEN attempt - 1 ELSE attempt END
                -- `IS TRUE` keeps this a primary-key lookup: a bare state = 'CLAIMED' would let
                -- the planner use the claimable index, walking every claim since the last vacuum.
                WHERE partition_id = \(fence.partitionID) AND owner = \(fence.owner)
                  AND attempt = \(fence.attempt) AND (state = 'CLAIMED') IS TRUE
                RETURNING partition_id, worker_step
            ), \(StepSaveSQL.stepAndContext(execution, now: now, onlyIf: "EXISTS (SELECT 1 FROM lease)")),
            next_pick AS MATERIALIZED (
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
                    WHERE (worker_step, state, partition_id) > (served.step, 'READY', \(fence.partitionID))
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
                RETURNING \(unsafeRaw: PartitionClaimSQL.claimColumns)
            )
            SELECT \(unsafeRaw: StepSaveSQL.jobStatusColumn),
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
                                   ORDER BY o.worker_step, o.state, o.partition_id LIMIT \(unsafeRaw: String(PartitionFinish.notifyBelowWaiting))) waiting)
                               < \(unsafeRaw: String(PartitionFinish.notifyBelowWaiting)))),
                   -- Nothing is written unless both the claim and the step's version hold: the
                   -- statement fails otherwise, so a COMMIT sent with it (a chunk's) does not run.
                   CASE WHEN NOT EXISTS (SELECT 1 FROM lease)
                        THEN batch_refuse_save('claim', \(PartitionLeaseLost(fence: fence).description))
                        WHEN NOT EXISTS (SELECT 1 FROM step)
                        THEN batch_refuse_save('stale', \(StepSaveSQL.staleVersion(execution).message)) END,
                   next.*
            FROM (VALUES (1)) AS one LEFT JOIN next ON true
            """, prepared: true).single()
        } catch let error as PostgresError where error.sqlState == StepSaveSQL.guardLostState {
            throw PartitionLeaseLost(fence: fence)
        } catch let error as PostgresError where error.sqlState == StepSaveSQL.staleState {
            throw StepSaveSQL.staleVersion(execution)
        }
        let jobStatus = try StepSaveSQL.saved(&execution, jobStatus: row.decode(String?.self, column: 0), now: now)
        let next = try row.decode(Int64?.self, column: 3) == nil ? nil : try PartitionClaimSQL.claimedPartition(from: row, at: 3)
        return (jobStatus, Outcome(ended: finish != nil, next: next))
    }
}
