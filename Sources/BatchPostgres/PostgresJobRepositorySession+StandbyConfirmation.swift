import Batch
import Foundation
import PostgresClient

/// A job's end reported only once the standbys have it. With asynchronous replication a commit
/// the primary acknowledged may be missing from a standby promoted a moment later (and a primary
/// still running after its standby's promotion goes on acknowledging commits that are lost with
/// it): a launcher that printed `COMPLETED` then left the execution `STARTED` on the new primary,
/// for a relaunch to finish. Waiting for the standbys' flush closes that window: a failover
/// meanwhile loses the session, and the end is checked again on the new primary (its steps'
/// ends too: the run resumes when they were lost).
extension PostgresJobRepositorySession {
    /// How long a job's end waits for the standbys before it is reported anyway.
    static let standbyConfirmationLimit = Duration.seconds(10)

    /// The standbys streaming from the server now whose progress this session may read (a role
    /// without `pg_read_all_stats`, or `pg_monitor`, sees none: its ends are not waited for).
    func streamingStandbys() -> Int {
        let count = try? connection.query("""
            SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND flush_lsn IS NOT NULL
            """, prepared: true).single().decode(Int64.self, column: 0)
        return Int(count ?? 0)
    }

    /// Waits until `expected` standbys have flushed the WAL up to now (so the commit just made),
    /// polling, within ``standbyConfirmationLimit``. Standbys that stop streaming are waited for
    /// all the same: a standby promoted meanwhile has stopped, and the primary it left is about
    /// to be fenced, which ends this session (a connection-lost error, for the caller to check).
    func confirmOnStandbys(expected: Int) throws {
        guard expected > 0 else { return }
        let clock = ContinuousClock()
        let giveUp = clock.now + Self.standbyConfirmationLimit
        let lsn = try connection.query("SELECT pg_current_wal_lsn()::text", prepared: true).single().decode(String.self, column: 0)
        while true {
            let flushed = try connection.query("""
                SELECT count(*) FROM pg_stat_replication
                WHERE state = 'streaming' AND flush_lsn >= \(lsn)::pg_lsn
                """, prepared: true).single().decode(Int64.self, column: 0)
            if flushed >= expected || clock.now >= giveUp { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }
}
