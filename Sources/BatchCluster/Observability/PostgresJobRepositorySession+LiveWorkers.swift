import BatchPostgres
import PostgresClient

extension PostgresJobRepositorySession {
    /// Workers whose heartbeat is within their lease, as the launcher's progress counts them.
    func liveWorkerCount() throws -> Int {
        let row = try connection.query("""
            SELECT count(*) FROM batch_worker w
            WHERE w.state = 'RUNNING' AND w.heartbeat_at > now() - make_interval(secs => w.lease_seconds)
            """, prepared: true).single()
        return Int(try row.decode(Int64.self, column: 0))
    }
}
