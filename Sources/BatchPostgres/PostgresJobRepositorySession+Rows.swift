import Batch
import Foundation
import PostgresClient

extension PostgresJobRepositorySession {
    package static let stepColumns = """
        s.step_execution_id, s.job_execution_id, s.step_name, s.status, s.exit_code, s.exit_message,
        s.read_count, s.write_count, s.filter_count, s.read_skip_count, s.process_skip_count,
        s.write_skip_count, s.commit_count, s.rollback_count, s.create_time, s.start_time, s.end_time,
        s.last_updated, s.version, c.short_context, c.serialized_context
        """
    /// How many columns ``stepColumns`` selects (what follows them starts at this index).
    package static let stepColumnCount = 21

    package static func stepExecution(from row: PostgresRow) throws -> StepExecution {
        try stepExecution(from: row, at: 0)
    }

    /// A step execution from ``stepColumns`` starting at column `first`.
    package static func stepExecution(from row: PostgresRow, at first: Int) throws -> StepExecution {
        func count(_ column: Int) throws -> Int64 { try row.decode(Int64?.self, column: first + column) ?? 0 }
        let context: ExecutionContext
        if let short = try row.decode(String?.self, column: first + 19) {
            context = try ExecutionContext(short: short, serialized: row.decode(String?.self, column: first + 20))
        } else {
            context = ExecutionContext()
        }
        return StepExecution(
            id: try row.decode(Int64.self, column: first + 0),
            jobExecutionID: try row.decode(Int64.self, column: first + 1),
            stepName: try row.decode(String.self, column: first + 2),
            status: BatchStatus(rawValue: try row.decode(String?.self, column: first + 3) ?? "") ?? .unknown,
            exitStatus: ExitStatus(
                exitCode: try row.decode(String?.self, column: first + 4) ?? "UNKNOWN",
                exitDescription: try row.decode(String?.self, column: first + 5) ?? ""),
            counts: StepCounts(
                read: try count(6), write: try count(7), filter: try count(8), readSkip: try count(9),
                processSkip: try count(10), writeSkip: try count(11), commit: try count(12),
                rollback: try count(13)),
            createTime: try row.decode(Date.self, column: first + 14),
            startTime: try row.decode(Date?.self, column: first + 15),
            endTime: try row.decode(Date?.self, column: first + 16),
            lastUpdated: try row.decode(Date?.self, column: first + 17),
            version: try row.decode(Int64.self, column: first + 18),
            context: context)
    }
}
