import Batch
import Foundation
import PostgresClient

/// One line of the execution history, for `swiftbatch status`.
public struct ExecutionSummary: Sendable {
    public var executionID: Int64
    public var jobName: String
    public var status: BatchStatus
    public var exitCode: String
    public var startTime: Date?
    public var endTime: Date?
    public var read: Int64
    public var written: Int64
}

extension PostgresJobRepositorySession {
    /// The newest executions, newest first, optionally of one job.
    public func recentExecutions(jobName: String?, limit: Int) throws -> [ExecutionSummary] {
        try connection.query("""
            SELECT e.job_execution_id, i.job_name, e.status, e.exit_code, e.start_time, e.end_time,
                   coalesce(sum(s.read_count), 0)::bigint, coalesce(sum(s.write_count), 0)::bigint
            FROM batch_job_execution e
            JOIN batch_job_instance i ON i.job_instance_id = e.job_instance_id
            -- A manager step already holds its partitions' sums; partitions (`step:part`) are not added again.
            LEFT JOIN batch_step_execution s ON s.job_execution_id = e.job_execution_id AND strpos(s.step_name, ':') = 0
            WHERE \(jobName)::text IS NULL OR i.job_name = \(jobName)
            GROUP BY e.job_execution_id, i.job_name
            ORDER BY e.job_execution_id DESC LIMIT \(limit)
            """).map { row in
            ExecutionSummary(
                executionID: try row.decode(Int64.self, column: 0),
                jobName: try row.decode(String.self, column: 1),
                status: BatchStatus(rawValue: try row.decode(String?.self, column: 2) ?? "") ?? .unknown,
                exitCode: try row.decode(String?.self, column: 3) ?? "",
                startTime: try row.decode(Date?.self, column: 4),
                endTime: try row.decode(Date?.self, column: 5),
                read: try row.decode(Int64.self, column: 6),
                written: try row.decode(Int64.self, column: 7))
        }
    }
}

/// A partitioned step's partitions in one execution, summed up for a report.
public struct PartitionSummary: Sendable {
    public var total: Int
    public var completed: Int
    /// The first unfinished ones (by id), with their exit messages.
    public var unfinished: [StepExecution]
}

extension PostgresJobRepositorySession {
    /// An execution's steps for a report: its top-level steps in full, and for each partitioned
    /// one its partitions counted, naming at most `named` unfinished ones. Memory does not grow
    /// with the number of partitions (100,000 are two counts and a few rows).
    public func reportSteps(jobExecutionID: Int64, named: Int) throws
        -> (steps: [StepExecution], partitions: [String: PartitionSummary])
    {
        let steps = try connection.query("""
            SELECT \(unsafeRaw: Self.stepColumns)
            FROM batch_step_execution s
            LEFT JOIN batch_step_execution_context c ON c.step_execution_id = s.step_execution_id
            WHERE s.job_execution_id = \(jobExecutionID) AND strpos(s.step_name, ':') = 0
            ORDER BY s.step_execution_id
            """).map(Self.stepExecution(from:))
        var partitions: [String: PartitionSummary] = [:]
        for row in try connection.query("""
            SELECT split_part(step_name, ':', 1), count(*), count(*) FILTER (WHERE status = 'COMPLETED')
            FROM batch_step_execution
            WHERE job_execution_id = \(jobExecutionID) AND strpos(step_name, ':') > 0
            GROUP BY 1
            """) {
            let (step, total, completed) = try row.decode((String, Int64, Int64).self)
            partitions[step] = PartitionSummary(total: Int(total), completed: Int(completed), unfinished: [])
        }
        guard partitions.values.contains(where: { $0.completed < $0.total }) else { return (steps, partitions) }
        let unfinished = try connection.query("""
            SELECT \(unsafeRaw: Self.stepColumns)
            FROM (SELECT *, row_number() OVER (PARTITION BY split_part(step_name, ':', 1) ORDER BY step_execution_id) AS n
                  FROM batch_step_execution
                  WHERE job_execution_id = \(jobExecutionID) AND strpos(step_name, ':') > 0 AND status <> 'COMPLETED') s
            LEFT JOIN batch_step_execution_context c ON c.step_execution_id = s.step_execution_id
            WHERE s.n <= \(named)
            ORDER BY s.step_execution_id
            """).map(Self.stepExecution(from:))
        for part in unfinished {
            partitions[String(part.stepName.prefix { $0 != ":" })]?.unfinished.append(part)
        }
        return (steps, partitions)
    }
}
