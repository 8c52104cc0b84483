import Batch
import BatchPostgres
import PostgresClient

/// What a heartbeat found of the claims it was asked to renew.
public struct HeartbeatResult: Sendable, Equatable {
    /// Claims (partition ids) still the worker's whose lease now runs a full lease again.
    public var renewed: Set<Int64> = []
    /// Claims still the worker's that were not renewed because the worker's own slot holds
    /// their row right now (it is committing, which renews the lease by itself).
    public var busy: Set<Int64> = []
    /// Claims no longer the worker's: their lease ran out and another worker took them over, or
    /// they were failed. The slot holding one must stop at once and write nothing more.
    public var lost: Set<Int64> = []

    public init(renewed: Set<Int64> = [], busy: Set<Int64> = [], lost: Set<Int64> = []) {
        self.renewed = renewed
        self.busy = busy
        self.lost = lost
    }
}

extension PostgresJobRepositorySession {
    /// How long a worker row is kept after its last heartbeat: a day, beyond any lease.
    static let workerRowRetention = "1 day"

    /// Registers (or re-registers) a worker with a fresh heartbeat and its lease, and removes
    /// the rows of workers silent for longer than a day, so `batch_worker` does not grow with
    /// every start. A role that may not delete (the least-privilege `swiftbatch_worker` of
    /// `sql/roles.sql`) registers all the same and leaves the old rows to the repository's owner.
    ///
    /// The row records the database role that registered it (`db_role`, migration 13): under
    /// the row-level security of `sql/roles.sql` the worker's claims are that login's, and an
    /// id registered by another worker login is refused with SQLSTATE 42501.
    public func registerWorker(
        id: String, host: String, pid: Int32, concurrency: Int, steps: [String], leaseSeconds: Double
    ) throws {
        do {
            try connection.execute("""
                DELETE FROM batch_worker WHERE heartbeat_at < now() - interval '\(unsafeRaw: Self.workerRowRetention)'
                """)
        } catch let error as PostgresError where error.sqlState == .insufficientPrivilege {
            // Not this role's to prune.
        }
        try connection.execute("""
            INSERT INTO batch_worker (worker_id, host, pid, concurrency, steps, state, lease_seconds)
            VALUES (\(id), \(String(host.prefix(255))), \(pid), \(concurrency), \(steps.joined(separator: ",")), 'RUNNING',
                    \(leaseSeconds))
            ON CONFLICT (worker_id) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid,
                concurrency = EXCLUDED.concurrency, steps = EXCLUDED.steps, state = 'RUNNING',
                lease_seconds = EXCLUDED.lease_seconds, heartbeat_at = now(), db_role = EXCLUDED.db_role
            """)
    }

    /// Marks the worker's heartbeat and renews the leases of the partitions it is running
    /// (`held`: their claims), in one statement, and says which are still its own.
    ///
    /// Only claims in hand are renewed, never every row the worker owns: a partition a slot
    /// dropped (its connection broke and it gave up) must expire so another worker takes it.
    /// A claim whose row a slot of this worker holds locked (mid-commit) is skipped, never
    /// waited for: the heartbeat must not stall behind its own slots.
    @discardableResult
    public func heartbeat(workerID: String, leaseSeconds: Double, held: [PartitionFence], state: String = "RUNNING") throws
        -> HeartbeatResult
    {
        let claims = held.map { "\($0.partitionID):\($0.attempt)" }.joined(separator: ",")
        let rows = try connection.query("""
            WITH worker AS (
                UPDATE batch_worker SET heartbeat_at = now(), state = \(state), lease_seconds = \(leaseSeconds)
                WHERE worker_id = \(workerID)
            ), held AS (
                SELECT split_part(claim, ':', 1)::bigint AS partition_id, split_part(claim, ':', 2)::int AS attempt
                FROM unnest(string_to_array(\(claims), ',')) claim
            ), ours AS (
                -- A plain read never waits for a lock: which claims are still this worker's.
                SELECT p.partition_id FROM batch_partition p JOIN held ON held.partition_id = p.partition_id
                -- IS TRUE: by primary key, never through the claimable index (see the fenced save).
                WHERE p.attempt = held.attempt AND p.owner = \(workerID) AND (p.state = 'CLAIMED') IS TRUE
            ), renewable AS (
                SELECT p.partition_id FROM batch_partition p JOIN held ON held.partition_id = p.partition_id
                WHERE p.attempt = held.attempt AND p.owner = \(workerID) AND (p.state = 'CLAIMED') IS TRUE
                FOR UPDATE OF p SKIP LOCKED
            ), renewed AS (
                UPDATE batch_partition p SET lease_expires_at = now() + make_interval(secs => \(leaseSeconds))
                FROM renewable r WHERE p.partition_id = r.partition_id
                RETURNING p.partition_id
            )
            SELECT ours.partition_id, renewed.partition_id IS NOT NULL
            FROM ours LEFT JOIN renewed ON renewed.partition_id = ours.partition_id
            """, prepared: true)
        var result = HeartbeatResult()
        var stillOurs: Set<Int64> = []
        for row in rows {
            let (id, renewed) = try row.decode((Int64, Bool).self)
            stillOurs.insert(id)
            if renewed { result.renewed.insert(id) } else { result.busy.insert(id) }
        }
        result.lost = Set(held.map(\.partitionID)).subtracting(stillOurs)
        return result
    }

    /// Marks a worker stopped (it deregisters on a graceful exit).
    public func stopWorker(id: String) throws {
        try connection.execute("UPDATE batch_worker SET state = 'STOPPED', heartbeat_at = now() WHERE worker_id = \(id)")
    }
}
