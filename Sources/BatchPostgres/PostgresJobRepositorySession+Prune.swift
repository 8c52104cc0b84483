import Batch
import Foundation
import PostgresClient

/// What `prune` deleted (or, in a dry run, would delete).
public struct PruneCounts: Sendable, Equatable {
    public var instances = 0
    public var jobExecutions = 0
    public var jobParameters = 0
    public var jobContexts = 0
    public var stepExecutions = 0
    public var stepContexts = 0
    public var partitions = 0
    public var remoteChunks = 0
    public var skippedItems = 0
    public var launchers = 0

    public init() {}

    public static func += (lhs: inout PruneCounts, rhs: PruneCounts) {
        lhs.instances += rhs.instances
        lhs.jobExecutions += rhs.jobExecutions
        lhs.jobParameters += rhs.jobParameters
        lhs.jobContexts += rhs.jobContexts
        lhs.stepExecutions += rhs.stepExecutions
        lhs.stepContexts += rhs.stepContexts
        lhs.partitions += rhs.partitions
        lhs.remoteChunks += rhs.remoteChunks
        lhs.skippedItems += rhs.skippedItems
        lhs.launchers += rhs.launchers
    }
}

private struct PruneDryRun: Error {
    var counts: PruneCounts
}

extension PostgresJobRepositorySession {
    /// The rule `prune` applies, shared by the query that finds candidates and the re-check
    /// under lock: the instance's newest execution (`last`) ended COMPLETED or ABANDONED before
    /// the cutoff, and something of its history is still there to delete.
    private static let prunableInstance = """
        last.status IN ('COMPLETED', 'ABANDONED') AND coalesce(last.end_time, last.last_updated) < $1
        AND (EXISTS (SELECT 1 FROM batch_job_execution o
                     WHERE o.job_instance_id = last.job_instance_id AND o.job_execution_id <> last.job_execution_id)
             OR EXISTS (SELECT 1 FROM batch_step_execution s WHERE s.job_execution_id = last.job_execution_id)
             OR EXISTS (SELECT 1 FROM batch_job_launcher l WHERE l.job_execution_id = last.job_execution_id))
        """

    /// Job instances with history to prune (see ``prune(instances:cutoff:dryRun:)``), oldest first.
    public func pruneCandidates(cutoff: Date) throws -> [Int64] {
        try connection.query(PostgresQuery(
            unsafeSQL: """
                SELECT last.job_instance_id FROM (
                    SELECT DISTINCT ON (job_instance_id) job_instance_id, job_execution_id, status, end_time, last_updated
                    FROM batch_job_execution ORDER BY job_instance_id, job_execution_id DESC
                ) last
                WHERE \(Self.prunableInstance)
                ORDER BY last.job_instance_id
                """,
            bindings: bindings(cutoff))).map { try $0.decode(Int64.self, column: 0) }
    }

    private func bindings(_ cutoff: Date) -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(cutoff)
        return bindings
    }

    /// Deletes, in one transaction, the history of these job instances that the prune rule
    /// still allows once their rows are locked (a launch of the same instance waits meanwhile):
    /// every execution but the newest, with all their rows, and the newest execution's step
    /// executions, contexts, partitions, skipped items and launcher record. The newest
    /// execution's own row, parameters and context stay, so a COMPLETED instance is still
    /// refused and ABANDONED one still never restarts.
    public func prune(instances: [Int64], cutoff: Date, dryRun: Bool) throws -> PruneCounts {
        do {
            return try connection.withTransaction { db in
                let counts = try Self.prune(db, instances, cutoff)
                if dryRun { throw PruneDryRun(counts: counts) }
                return counts
            }
        } catch let dry as PruneDryRun {
            return dry.counts
        }
    }

    private static func prune(_ db: PostgresConnection, _ instances: [Int64], _ cutoff: Date) throws -> PruneCounts {
        let list = instances.map(String.init).joined(separator: ",")
        var lock = PostgresBindings()
        lock.append(list)
        let locked = try db.query(PostgresQuery(
            unsafeSQL: """
                SELECT job_instance_id FROM batch_job_instance
                WHERE job_instance_id = ANY (string_to_array($1, ',')::bigint[]) FOR UPDATE
                """,
            bindings: lock)).map { try $0.decode(Int64.self, column: 0) }
        var recheck = PostgresBindings()
        recheck.append(cutoff)
        recheck.append(locked.map(String.init).joined(separator: ","))
        let kept = try db.query(PostgresQuery(
            unsafeSQL: """
                SELECT last.job_instance_id, last.job_execution_id FROM (
                    SELECT DISTINCT ON (job_instance_id) job_instance_id, job_execution_id, status, end_time, last_updated
                    FROM batch_job_execution WHERE job_instance_id = ANY (string_to_array($2, ',')::bigint[])
                    ORDER BY job_instance_id, job_execution_id DESC
                ) last
                WHERE \(prunableInstance)
                """,
            bindings: recheck)).map { try $0.decode((Int64, Int64).self) }
        var counts = PruneCounts()
        guard !kept.isEmpty else { return counts }
        counts.instances = kept.count
        let instanceList = kept.map { String($0.0) }.joined(separator: ",")
        let keptList = kept.map { String($0.1) }.joined(separator: ",")
        // Every execution of these instances, and the older ones (deleted whole).
        try db.execute("""
            CREATE TEMPORARY TABLE IF NOT EXISTS swiftbatch_prune_execution (job_execution_id bigint PRIMARY KEY, whole boolean NOT NULL)
                ON COMMIT DELETE ROWS
            """)
        try db.execute("""
            INSERT INTO swiftbatch_prune_execution
            SELECT job_execution_id, NOT (job_execution_id = ANY (string_to_array(\(keptList), ',')::bigint[]))
            FROM batch_job_execution WHERE job_instance_id = ANY (string_to_array(\(instanceList), ',')::bigint[])
            """)
        try db.execute("""
            CREATE TEMPORARY TABLE IF NOT EXISTS swiftbatch_prune_step (step_execution_id bigint PRIMARY KEY)
                ON COMMIT DELETE ROWS
            """)
        try db.execute("""
            INSERT INTO swiftbatch_prune_step
            SELECT s.step_execution_id FROM batch_step_execution s JOIN swiftbatch_prune_execution USING (job_execution_id)
            """)
        try db.execute("ANALYZE swiftbatch_prune_execution")
        try db.execute("ANALYZE swiftbatch_prune_step")
        // Children first. A restart's partitions may point at step executions of an earlier
        // attempt: all are in this instance, so all go in this transaction.
        counts.skippedItems = try db.execute("""
            DELETE FROM batch_skipped_item k
            WHERE k.job_execution_id IN (SELECT job_execution_id FROM swiftbatch_prune_execution)
               OR k.step_execution_id IN (SELECT step_execution_id FROM swiftbatch_prune_step)
            """)
        counts.partitions = try db.execute("""
            DELETE FROM batch_partition p
            WHERE p.job_execution_id IN (SELECT job_execution_id FROM swiftbatch_prune_execution)
               OR p.step_execution_id IN (SELECT step_execution_id FROM swiftbatch_prune_step)
               OR p.manager_step_execution_id IN (SELECT step_execution_id FROM swiftbatch_prune_step)
            """)
        // A restart's manager adopted the earlier attempts' chunks, so they point at steps of
        // this instance too.
        counts.remoteChunks = try db.execute("""
            DELETE FROM batch_remote_chunk r
            WHERE r.job_execution_id IN (SELECT job_execution_id FROM swiftbatch_prune_execution)
               OR r.step_execution_id IN (SELECT step_execution_id FROM swiftbatch_prune_step)
            """)
        counts.stepContexts = try db.execute("""
            DELETE FROM batch_step_execution_context WHERE step_execution_id IN (SELECT step_execution_id FROM swiftbatch_prune_step)
            """)
        counts.stepExecutions = try db.execute("""
            DELETE FROM batch_step_execution WHERE step_execution_id IN (SELECT step_execution_id FROM swiftbatch_prune_step)
            """)
        counts.launchers = try db.execute("""
            DELETE FROM batch_job_launcher WHERE job_execution_id IN (SELECT job_execution_id FROM swiftbatch_prune_execution)
            """)
        counts.jobParameters = try db.execute("""
            DELETE FROM batch_job_execution_params
            WHERE job_execution_id IN (SELECT job_execution_id FROM swiftbatch_prune_execution WHERE whole)
            """)
        counts.jobContexts = try db.execute("""
            DELETE FROM batch_job_execution_context
            WHERE job_execution_id IN (SELECT job_execution_id FROM swiftbatch_prune_execution WHERE whole)
            """)
        counts.jobExecutions = try db.execute("""
            DELETE FROM batch_job_execution
            WHERE job_execution_id IN (SELECT job_execution_id FROM swiftbatch_prune_execution WHERE whole)
            """)
        return counts
    }
}
