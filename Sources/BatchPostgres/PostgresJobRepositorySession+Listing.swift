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
