-- SwiftBatch migration 10: liveness follows each worker's lease. A worker records the lease it
-- runs with; it is live while its last heartbeat is younger than one lease (it heartbeats every
-- third of it), stale up to four (its claims have run out and go to others), dead beyond.
-- Worker rows silent for a day are removed when a worker registers.
ALTER TABLE batch_worker ADD COLUMN IF NOT EXISTS lease_seconds double precision NOT NULL DEFAULT 30
    CHECK (lease_seconds > 0);

-- Worker health: one row per registered worker (rows stay after a worker stops or dies, for a
-- day after its last heartbeat).
CREATE OR REPLACE VIEW batch_dashboard_workers AS
SELECT w.worker_id,
       w.host,
       w.pid,
       w.concurrency,
       w.steps,
       w.state,
       w.started_at,
       w.heartbeat_at,
       round(extract(epoch FROM now() - w.heartbeat_at), 1) AS heartbeat_age_seconds,
       CASE WHEN w.state = 'STOPPED' THEN 'stopped'
            WHEN now() - w.heartbeat_at < make_interval(secs => w.lease_seconds) THEN 'live'
            WHEN now() - w.heartbeat_at < make_interval(secs => 4 * w.lease_seconds) THEN 'stale'
            ELSE 'dead' END AS health,
       h.partitions_held,
       h.expired_leases,
       h.held,
       w.lease_seconds
FROM batch_worker w
CROSS JOIN LATERAL (
    SELECT count(*) AS partitions_held,
           count(*) FILTER (WHERE p.lease_expires_at < now()) AS expired_leases,
           string_agg(p.worker_step || ':' || p.partition_name, ', ' ORDER BY p.partition_id) AS held
    FROM batch_partition p
    WHERE p.owner = w.worker_id AND p.state = 'CLAIMED'
) h;
