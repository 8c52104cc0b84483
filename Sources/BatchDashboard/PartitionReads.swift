import Batch
import Foundation
import PostgresClient

/// One partition of a partitioned step, as the partition page lists it.
struct PartitionRow: Sendable {
    var name: String
    var state: String
    var status: String
    var owner: String?
    var attempt: Int
    var maxAttempts: Int
    var read: Int64
    var written: Int64
    var readPerSecond: Double?
    var elapsedSeconds: Double?
    var leaseRemainingSeconds: Double?
    var straggler: Bool
    var lastError: String?
}

/// A partition's run, for the throughput chart: its counts spread over its time.
struct PartitionSpan: Sendable {
    var start: Date
    var end: Date
    var written: Int64
    var finished: Bool
}

struct PartitionPage: Sendable {
    var jobName: String
    var executionStatus: BatchStatus
    var stateCounts: [(state: String, count: Int)]
    var rows: [PartitionRow]
    var total: Int
    var spans: [PartitionSpan]
    var now: Date
}

enum PartitionReads {
    static let rowsShown = 500
    static let spansRead = 20_000

    /// The partitions of `step` in execution `id`: failed ones first, then stragglers, then the
    /// running ones, then the rest by id; at most ``rowsShown`` of them, and every state counted.
    static func page(executionID id: Int64, step: String, on db: PostgresConnection) throws -> PartitionPage? {
        guard let head = try db.query("""
            SELECT i.job_name, e.status, (now() AT TIME ZONE 'UTC')::timestamp
            FROM batch_job_execution e JOIN batch_job_instance i ON i.job_instance_id = e.job_instance_id
            WHERE e.job_execution_id = \(id)
            """).first else { return nil }
        let prefix = step + ":"
        let counts = try db.query("""
            SELECT coalesce(p.state, s.status, 'UNKNOWN'), count(*)
            FROM batch_step_execution s LEFT JOIN batch_partition p ON p.step_execution_id = s.step_execution_id
            WHERE s.job_execution_id = \(id) AND left(s.step_name, length(\(prefix))) = \(prefix)
            GROUP BY 1 ORDER BY 1
            """).map { (try $0.decode(String.self, column: 0), try $0.decode(Int.self, column: 1)) }
        let rows = try db.query("""
            SELECT partition_name, coalesce(partition_state, status), status, owner, coalesce(attempt, 0), coalesce(max_attempts, 0),
                   coalesce(read_count, 0), coalesce(write_count, 0), read_per_second::float8, elapsed_seconds::float8,
                   lease_remaining_seconds::float8, straggler,
                   coalesce(last_error, CASE WHEN status IN ('FAILED', 'STOPPED', 'UNKNOWN') THEN exit_code END)
            FROM batch_dashboard_steps
            WHERE job_execution_id = \(id) AND left(step_name, length(\(prefix))) = \(prefix)
            ORDER BY (coalesce(partition_state, status) = 'FAILED') DESC, straggler DESC,
                     (coalesce(partition_state, status) = 'CLAIMED') DESC, (coalesce(partition_state, status) = 'READY') DESC,
                     partition_id NULLS LAST, step_execution_id
            LIMIT \(rowsShown)
            """).map { row in
            PartitionRow(
                name: try row.decode(String?.self, column: 0) ?? "?", state: try row.decode(String?.self, column: 1) ?? "?",
                status: try row.decode(String?.self, column: 2) ?? "", owner: try row.decode(String?.self, column: 3),
                attempt: try row.decode(Int.self, column: 4), maxAttempts: try row.decode(Int.self, column: 5),
                read: try row.decode(Int64.self, column: 6), written: try row.decode(Int64.self, column: 7),
                readPerSecond: try row.decode(Double?.self, column: 8), elapsedSeconds: try row.decode(Double?.self, column: 9),
                leaseRemainingSeconds: try row.decode(Double?.self, column: 10), straggler: try row.decode(Bool.self, column: 11),
                lastError: try row.decode(String?.self, column: 12))
        }
        let spans = try db.query("""
            SELECT start_time, coalesce(end_time, last_updated, start_time), coalesce(write_count, 0), end_time IS NOT NULL
            FROM batch_step_execution
            WHERE job_execution_id = \(id) AND left(step_name, length(\(prefix))) = \(prefix) AND start_time IS NOT NULL
            LIMIT \(spansRead)
            """).map { row in
            PartitionSpan(
                start: try row.decode(Date.self, column: 0), end: try row.decode(Date.self, column: 1),
                written: try row.decode(Int64.self, column: 2), finished: try row.decode(Bool.self, column: 3))
        }
        return PartitionPage(
            jobName: try head.decode(String.self, column: 0),
            executionStatus: BatchStatus(rawValue: try head.decode(String?.self, column: 1) ?? "") ?? .unknown,
            stateCounts: counts, rows: rows, total: counts.reduce(0) { $0 + $1.1 }, spans: spans,
            now: try head.decode(Date.self, column: 2))
    }
}
