import Batch
import Foundation
import PostgresClient

/// What `recover` found about one running execution, and what it did.
public struct RecoveryDecision: Sendable {
    public enum Action: Sendable, Equatable {
        /// Marked FAILED (its running steps too; `partitions` unfinished partitions FAILED, ready
        /// for a restart from their checkpoints).
        case failed(partitions: Int)
        /// Left running: its launcher lives.
        case launcherAlive
        /// Left running: workers still hold claims on its partitions (`claims`).
        case workersHoldPartitions(claims: Int)
        /// Left running: no launcher record (launched by a binary without launcher heartbeats).
        case noLauncherRecord
    }

    public var executionID: Int64
    public var jobName: String
    public var action: Action
    /// Who launched it and when it was last heard from, when known.
    public var launcher: String?
    public var reason: String?
}

/// What a launcher that detaches (Ctrl-C) left behind.
public enum DetachOutcome: Sendable, Equatable {
    /// The execution awaits partitions: workers carry on; the launcher's lease was released, so
    /// a new launch of the instance attaches at once. `liveWorkers`: workers serving its steps.
    case awaitingPartitions(liveWorkers: Int)
    /// A step ran inside the launcher and cannot outlive it: the execution and those steps are
    /// FAILED now, restartable from their last commit.
    case failed(steps: [String])
    /// The execution is no longer running (it ended meanwhile).
    case ended(BatchStatus)
    /// Another launcher owns the execution now: nothing was changed.
    case notOurs
}

private struct DryRun: Error {}

extension PostgresJobRepositorySession {
    /// Marks FAILED every running execution whose launcher and workers are all gone: the
    /// launcher's lease ran out and no partition of it is claimed under a live lease. Its running
    /// step executions are FAILED too, and its unfinished partitions (ready, or claimed under an
    /// expired lease) FAILED, so no worker picks them up and a restart makes them ready again
    /// from their checkpoints. An execution whose launcher lives, or without a launcher record,
    /// is never touched. One transaction per execution, under the instance's row lock (as a
    /// launch takes it), with every condition checked again under lock.
    ///
    /// - Parameter dryRun: decide and report, then roll every change back.
    public func recoverAbandonedExecutions(dryRun: Bool) throws -> [RecoveryDecision] {
        let running = try connection.query("""
            SELECT job_execution_id FROM batch_job_execution
            WHERE status IN ('STARTING', 'STARTED', 'STOPPING') ORDER BY job_execution_id
            """).map { try $0.decode(Int64.self, column: 0) }
        var decisions: [RecoveryDecision] = []
        for id in running {
            var decision: RecoveryDecision?
            do {
                try connection.withTransaction { db in
                    decision = try Self.recover(db, executionID: id)
                    if dryRun { throw DryRun() }
                }
            } catch is DryRun {}
            if let decision { decisions.append(decision) }
        }
        return decisions
    }

    private static func recover(_ db: PostgresConnection, executionID: Int64) throws -> RecoveryDecision? {
        guard let (jobName, status) = try db.query("""
            SELECT i.job_name, e.status FROM batch_job_instance i
            JOIN batch_job_execution e ON e.job_instance_id = i.job_instance_id
            WHERE e.job_execution_id = \(executionID) FOR UPDATE OF i
            """, prepared: true).first.map({ try $0.decode((String, String?).self) }),
            BatchStatus(rawValue: status ?? "")?.isRunning == true
        else { return nil }  // it ended meanwhile
        var decision = RecoveryDecision(executionID: executionID, jobName: jobName, action: .noLauncherRecord)
        guard let launcher = try db.query("""
            SELECT host, pid, lease_expires_at < now(), extract(epoch FROM now() - heartbeat_at)::bigint
            FROM batch_job_launcher WHERE job_execution_id = \(executionID) FOR UPDATE
            """, prepared: true).first
        else { return decision }
        let (host, pid, expired, silentFor) = try launcher.decode((String, Int32, Bool, Int64).self)
        decision.launcher = "pid \(pid) on \(host), heard from \(silentFor) s ago"
        guard expired else {
            decision.action = .launcherAlive
            return decision
        }
        // Lock the unfinished partitions (a worker's claim skips locked rows), then look at the claims.
        let unfinished = try db.query("""
            SELECT lease_expires_at > now() AND state = 'CLAIMED' FROM batch_partition
            WHERE job_execution_id = \(executionID) AND state IN ('READY', 'CLAIMED')
            FOR UPDATE
            """, prepared: true).map { try $0.decode(Bool?.self, column: 0) ?? false }
        let liveClaims = unfinished.filter { $0 }.count
        guard liveClaims == 0 else {
            decision.action = .workersHoldPartitions(claims: liveClaims)
            return decision
        }
        let reason = "recovered: its launcher (pid \(pid) on \(host)) stopped heartbeating \(silentFor) s ago and no worker held its partitions; restart it"
        decision.reason = reason
        let partitions = try db.execute("""
            UPDATE batch_partition SET state = 'FAILED', last_error = \(reason), updated_at = now()
            WHERE job_execution_id = \(executionID) AND state IN ('READY', 'CLAIMED')
            """, prepared: true)
        _ = try failRunning(db, executionID, reason: reason, now: Date())
        decision.action = .failed(partitions: partitions)
        return decision
    }

    /// A launcher leaving its running execution (Ctrl-C). When the execution awaits partitions,
    /// workers carry on and the launcher's lease is released so a new launch attaches at once.
    /// Otherwise a step was running in the launcher and dies with it: the execution and its
    /// running steps are FAILED now, saying why (their last commit is where a restart resumes);
    /// the step's version moves on, so a chunk still in flight in this process cannot commit.
    /// Nothing is changed unless `owner` still holds the execution.
    public func detachLauncher(executionID: Int64, owner: String, reason: String) throws -> DetachOutcome {
        try connection.withTransaction { db in
            guard try db.query("""
                SELECT 1 FROM batch_job_launcher WHERE job_execution_id = \(executionID) AND owner = \(owner) FOR UPDATE
                """, prepared: true).first != nil
            else { return .notOurs }
            let status = try db.query("""
                SELECT status FROM batch_job_execution WHERE job_execution_id = \(executionID) FOR UPDATE
                """, prepared: true).single().decode(String?.self, column: 0)
            let batchStatus = BatchStatus(rawValue: status ?? "") ?? .unknown
            guard batchStatus.isRunning else { return .ended(batchStatus) }
            let outcome: DetachOutcome
            if try Self.awaitsPartitions(db, executionID) {
                let workers = try db.query("""
                    SELECT count(*) FROM batch_worker w
                    WHERE w.state = 'RUNNING' AND w.heartbeat_at > now() - make_interval(secs => w.lease_seconds)
                      AND EXISTS (
                          SELECT 1 FROM batch_partition p
                          WHERE p.job_execution_id = \(executionID) AND p.state IN ('READY', 'CLAIMED')
                            AND (w.steps = '*' OR p.worker_step = ANY (string_to_array(w.steps, ','))
                                 OR split_part(p.worker_step, '/', 1) = ANY (string_to_array(w.steps, ','))))
                    """, prepared: true).single().decode(Int64.self, column: 0)
                outcome = .awaitingPartitions(liveWorkers: Int(workers))
            } else {
                outcome = .failed(steps: try Self.failRunning(db, executionID, reason: reason, now: Date()))
            }
            // The owner changes too, so a heartbeat of this process still in flight cannot renew
            // the lease it just gave up.
            try db.execute("""
                UPDATE batch_job_launcher SET lease_expires_at = now() - interval '1 millisecond',
                    owner = left(owner, 190) || ':detached'
                WHERE job_execution_id = \(executionID)
                """, prepared: true)
            return outcome
        }
    }
}
