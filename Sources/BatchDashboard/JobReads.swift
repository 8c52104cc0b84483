import Batch
import Foundation
import PostgresClient

enum JobReads {
    /// The newest execution of each named job, if it ever ran.
    static func lastExecutions(of names: [String], on db: PostgresConnection) throws -> [String: ExecutionRow] {
        guard !names.isEmpty else { return [:] }
        var result: [String: ExecutionRow] = [:]
        // One probe per job: the newest execution of its newest instance that has one. Instances
        // come from batch_job_instance_name_idx; their executions from the instance index.
        for name in names {
            let row = try db.query("""
                SELECT \(unsafeRaw: ExecutionRow.columns)
                FROM batch_job_execution e
                JOIN batch_job_instance i ON i.job_instance_id = e.job_instance_id
                \(unsafeRaw: ExecutionRow.totals)
                WHERE e.job_execution_id = (
                    SELECT max(x.job_execution_id) FROM batch_job_execution x
                    WHERE x.job_instance_id = (SELECT max(job_instance_id) FROM batch_job_instance WHERE job_name = \(name)))
                """).first
            if let row { result[name] = try ExecutionRow(row: row) }
        }
        return result
    }
}
