import Foundation
import PostgresClient

/// One registered worker, as the workers page shows it.
struct WorkerRow: Sendable {
    var id: String
    var host: String
    var pid: Int
    var concurrency: Int
    var steps: String
    var state: String
    /// live, stale, dead or stopped (see `batch_dashboard_workers`).
    var health: String
    var heartbeatAgeSeconds: Double
    var leaseSeconds: Double
    var partitionsHeld: Int
    var expiredLeases: Int
    var held: String?
    /// Items read per second over the partitions it holds now.
    var readPerSecond: Double
    var startedAt: Date
}

enum WorkerReads {
    static func all(on db: PostgresConnection) throws -> [WorkerRow] {
        try db.query("""
            SELECT w.worker_id, w.host, w.pid, w.concurrency, w.steps, w.state, w.health,
                   w.heartbeat_age_seconds::float8, w.lease_seconds, w.partitions_held, w.expired_leases, w.held,
                   coalesce(r.rate, 0)::float8, w.started_at
            FROM batch_dashboard_workers w
            LEFT JOIN LATERAL (
                SELECT sum(s.read_count / greatest(extract(epoch FROM (now() AT TIME ZONE 'UTC') - s.start_time), 1)) AS rate
                FROM batch_partition p JOIN batch_step_execution s ON s.step_execution_id = p.step_execution_id
                WHERE p.owner = w.worker_id AND p.state = 'CLAIMED'
            ) r ON true
            ORDER BY CASE w.health WHEN 'live' THEN 0 WHEN 'stale' THEN 1 WHEN 'dead' THEN 2 ELSE 3 END, w.host, w.pid
            LIMIT 1000
            """).map { row in
            WorkerRow(
                id: try row.decode(String.self, column: 0), host: try row.decode(String.self, column: 1),
                pid: try row.decode(Int.self, column: 2), concurrency: try row.decode(Int.self, column: 3),
                steps: try row.decode(String.self, column: 4), state: try row.decode(String.self, column: 5),
                health: try row.decode(String.self, column: 6), heartbeatAgeSeconds: try row.decode(Double.self, column: 7),
                leaseSeconds: try row.decode(Double.self, column: 8), partitionsHeld: try row.decode(Int.self, column: 9),
                expiredLeases: try row.decode(Int.self, column: 10), held: try row.decode(String?.self, column: 11),
                readPerSecond: try row.decode(Double.self, column: 12), startedAt: try row.decode(Date.self, column: 13))
        }
    }
}
