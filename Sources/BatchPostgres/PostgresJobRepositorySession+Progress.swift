import Batch
import Foundation
import PostgresClient

/// Where the partitions of a partitioned step stand.
public struct PartitionTally: Sendable, Equatable, Codable {
    public var total: Int
    public var completed: Int
    public var failed: Int
    public var stopped: Int
    /// Claimed by a worker right now.
    public var running: Int

    public var done: Int { completed + failed + stopped }
}

/// One top-level step of an execution, as `status` and the progress line show it. A running
/// partitioned step's counts are its partitions' live sums.
public struct StepProgress: Sendable {
    public var id: Int64
    public var name: String
    public var status: BatchStatus
    public var exitCode: String
    public var exitMessage: String
    public var startTime: Date?
    public var endTime: Date?
    public var counts: StepCounts
    /// Nil for a step that is not partitioned.
    public var partitions: PartitionTally?
}

/// An execution and its steps, read in one query (cheap enough to poll every second).
public struct ExecutionProgress: Sendable {
    public var executionID: Int64
    public var jobName: String
    public var status: BatchStatus
    public var exitCode: String
    public var exitMessage: String
    public var startTime: Date?
    public var endTime: Date?
    /// The database's clock when read (elapsed times do not depend on this host's clock).
    public var now: Date
    public var steps: [StepProgress]

    public var read: Int64 { steps.reduce(0) { $0 + $1.counts.read } }
    public var written: Int64 { steps.reduce(0) { $0 + $1.counts.write } }
    /// The step running now, else the last one.
    public var currentStep: StepProgress? { steps.last { $0.status.isRunning } ?? steps.last }
}

extension PostgresJobRepositorySession {
    /// The execution with its top-level steps (partitions summed under their manager), or nil.
    public func executionProgress(id: Int64) throws -> ExecutionProgress? {
        let rows = try connection.query("""
            SELECT e.job_execution_id, i.job_name, e.status, e.exit_code, e.exit_message, e.start_time, e.end_time,
                   (now() AT TIME ZONE 'UTC')::timestamp,
                   s.step_execution_id, s.step_name, s.status, s.exit_code, s.exit_message, s.start_time, s.end_time,
                   s.read_count, s.write_count, s.filter_count, s.read_skip_count, s.process_skip_count,
                   s.write_skip_count, s.commit_count, s.rollback_count,
                   p.total, p.completed, p.failed, p.stopped, p.claimed,
                   p.read, p.written, p.filtered, p.read_skips, p.process_skips, p.write_skips, p.commits, p.rollbacks,
                   r.chunks, r.read, r.written, r.filtered, r.done
            FROM batch_job_execution e
            JOIN batch_job_instance i ON i.job_instance_id = e.job_instance_id
            LEFT JOIN batch_step_execution s ON s.job_execution_id = e.job_execution_id AND strpos(s.step_name, ':') = 0
            LEFT JOIN LATERAL (
                SELECT count(*) AS total, count(*) FILTER (WHERE p.state = 'COMPLETED') AS completed,
                       count(*) FILTER (WHERE p.state = 'FAILED') AS failed,
                       count(*) FILTER (WHERE p.state = 'STOPPED') AS stopped,
                       count(*) FILTER (WHERE p.state = 'CLAIMED') AS claimed,
                       coalesce(sum(ps.read_count), 0)::bigint AS read, coalesce(sum(ps.write_count), 0)::bigint AS written,
                       coalesce(sum(ps.filter_count), 0)::bigint AS filtered,
                       coalesce(sum(ps.read_skip_count), 0)::bigint AS read_skips,
                       coalesce(sum(ps.process_skip_count), 0)::bigint AS process_skips,
                       coalesce(sum(ps.write_skip_count), 0)::bigint AS write_skips,
                       coalesce(sum(ps.commit_count), 0)::bigint AS commits,
                       coalesce(sum(ps.rollback_count), 0)::bigint AS rollbacks
                FROM batch_partition p JOIN batch_step_execution ps ON ps.step_execution_id = p.step_execution_id
                WHERE p.manager_step_execution_id = s.step_execution_id
            ) p ON s.step_execution_id IS NOT NULL
            -- A remote chunk step's counts, live: its chunks' replies so far.
            LEFT JOIN LATERAL (
                SELECT count(*) AS chunks, coalesce(sum(r.item_count), 0)::bigint AS read,
                       coalesce(sum(r.write_count) FILTER (WHERE r.state = 'DONE'), 0)::bigint AS written,
                       coalesce(sum(r.filter_count) FILTER (WHERE r.state = 'DONE'), 0)::bigint AS filtered,
                       count(*) FILTER (WHERE r.state = 'DONE') AS done
                FROM batch_remote_chunk r
                WHERE r.step_execution_id = s.step_execution_id AND s.end_time IS NULL
            ) r ON s.step_execution_id IS NOT NULL
            WHERE e.job_execution_id = \(id)
            ORDER BY s.step_execution_id
            """, prepared: true)
        guard let first = rows.first else { return nil }
        var progress = ExecutionProgress(
            executionID: try first.decode(Int64.self, column: 0),
            jobName: try first.decode(String.self, column: 1),
            status: BatchStatus(rawValue: try first.decode(String?.self, column: 2) ?? "") ?? .unknown,
            exitCode: try first.decode(String?.self, column: 3) ?? "",
            exitMessage: try first.decode(String?.self, column: 4) ?? "",
            startTime: try first.decode(Date?.self, column: 5),
            endTime: try first.decode(Date?.self, column: 6),
            now: try first.decode(Date.self, column: 7),
            steps: [])
        for row in rows {
            guard let stepID = try row.decode(Int64?.self, column: 8) else { continue }
            func count(_ column: Int) throws -> Int64 { try row.decode(Int64?.self, column: column) ?? 0 }
            var step = StepProgress(
                id: stepID, name: try row.decode(String.self, column: 9),
                status: BatchStatus(rawValue: try row.decode(String?.self, column: 10) ?? "") ?? .unknown,
                exitCode: try row.decode(String?.self, column: 11) ?? "",
                exitMessage: try row.decode(String?.self, column: 12) ?? "",
                startTime: try row.decode(Date?.self, column: 13), endTime: try row.decode(Date?.self, column: 14),
                counts: StepCounts(
                    read: try count(15), write: try count(16), filter: try count(17), readSkip: try count(18),
                    processSkip: try count(19), writeSkip: try count(20), commit: try count(21), rollback: try count(22)),
                partitions: nil)
            let total = try count(23)
            if total > 0 {
                step.partitions = PartitionTally(
                    total: Int(total), completed: Int(try count(24)), failed: Int(try count(25)),
                    stopped: Int(try count(26)), running: Int(try count(27)))
                // The manager's own counts are written when it ends; until then, its partitions' sums.
                if step.endTime == nil {
                    step.counts = StepCounts(
                        read: try count(28), write: try count(29), filter: try count(30), readSkip: try count(31),
                        processSkip: try count(32), writeSkip: try count(33), commit: try count(34), rollback: try count(35))
                }
            }
            if step.endTime == nil, try count(36) > 0 {
                // The manager writes the sums of its chunks' replies when it ends; until then, these.
                step.counts.read = try count(37)
                step.counts.write = try count(38)
                step.counts.filter = try count(39)
                step.counts.commit = try count(40)
            }
            progress.steps.append(step)
        }
        return progress
    }

    /// The newest execution that is running (STARTING, STARTED or STOPPING), if any.
    public func newestRunningExecution() throws -> Int64? {
        try connection.query("""
            SELECT max(job_execution_id) FROM batch_job_execution WHERE status IN ('STARTING', 'STARTED', 'STOPPING')
            """).single().decode(Int64?.self, column: 0)
    }
}
