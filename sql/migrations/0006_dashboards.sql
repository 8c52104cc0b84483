-- SwiftBatch migration 6: dashboards. Read-only views over the job repository for psql,
-- Grafana, Metabase or any plain PostgreSQL data source: plain SQL, built-in functions only.
-- docs/DASHBOARDS.md describes every column and threshold.
--
-- Conventions of every view:
-- - times are timestamptz (the Spring Batch tables store UTC in `timestamp` columns; the views
--   convert them), durations and ages are seconds (numeric);
-- - counts of a partitioned step: its manager step (`transform`) already holds the sums of its
--   partitions (`transform:p0`, ...; a partition's step name has a ':'), so totals add manager
--   and plain steps, never partitions;
-- - a running step's figures are as of its last chunk commit.
--
-- CREATE OR REPLACE keeps this migration safe to re-apply. A later migration that removes or
-- renames a column must DROP VIEW first (CREATE OR REPLACE can only add columns at the end).

-- Failures are rare: these partial indexes keep the failures view from scanning all history.
CREATE INDEX IF NOT EXISTS batch_job_execution_failed_idx
    ON batch_job_execution (job_execution_id)
    WHERE status IN ('FAILED', 'UNKNOWN');
CREATE INDEX IF NOT EXISTS batch_step_execution_failed_idx
    ON batch_step_execution (step_execution_id)
    WHERE status IN ('FAILED', 'UNKNOWN');

-- Step and partition progress: one row per step execution, partitions included, with the
-- partition's claim (state, owner, attempt, lease) and, for a running partition, how it
-- compares with its completed siblings.
CREATE OR REPLACE VIEW batch_dashboard_steps AS
SELECT i.job_name,
       i.job_instance_id,
       s.job_execution_id,
       s.step_execution_id,
       s.step_name,
       -- The step as the job declares it: a partition's manager step.
       split_part(s.step_name, ':', 1) AS step,
       coalesce(p.partition_name,
                CASE WHEN strpos(s.step_name, ':') > 0 THEN substr(s.step_name, strpos(s.step_name, ':') + 1) END)
           AS partition_name,
       -- 'partition', 'manager' (holds its partitions' sums) or 'step'.
       CASE WHEN strpos(s.step_name, ':') > 0 THEN 'partition'
            WHEN EXISTS (SELECT 1 FROM batch_partition mp WHERE mp.manager_step_execution_id = s.step_execution_id)
              OR EXISTS (SELECT 1 FROM batch_step_execution ps
                         WHERE ps.job_execution_id = s.job_execution_id
                           AND left(ps.step_name, length(s.step_name) + 1) = s.step_name || ':')
            THEN 'manager'
            ELSE 'step' END AS kind,
       s.status,
       s.exit_code,
       s.read_count,
       s.write_count,
       s.filter_count,
       s.commit_count,
       s.rollback_count,
       s.read_skip_count + s.process_skip_count + s.write_skip_count AS skip_count,
       s.start_time AT TIME ZONE 'UTC' AS start_time,
       s.end_time AT TIME ZONE 'UTC' AS end_time,
       s.last_updated AT TIME ZONE 'UTC' AS last_updated,
       round(t.elapsed, 3) AS elapsed_seconds,
       round(s.read_count / nullif(t.elapsed, 0), 1) AS read_per_second,
       round(s.write_count / nullif(t.elapsed, 0), 1) AS write_per_second,
       p.partition_id,
       p.state AS partition_state,
       p.owner,
       p.attempt,
       p.max_attempts,
       p.lease_expires_at,
       -- While claimed: seconds left on the lease (negative: expired, claimable again) and
       -- seconds since the claim or the last chunk commit (each commit renews the lease).
       CASE WHEN p.state = 'CLAIMED' THEN round(extract(epoch FROM p.lease_expires_at - now()), 1) END
           AS lease_remaining_seconds,
       CASE WHEN p.state = 'CLAIMED' THEN round(extract(epoch FROM now() - p.updated_at), 1) END
           AS last_commit_age_seconds,
       p.last_error,
       -- Only for a running (CLAIMED) partition: its siblings under the same manager step.
       sib.partitions AS sibling_partitions,
       sib.completed AS siblings_completed,
       round(sib.median_seconds::numeric, 3) AS sibling_median_seconds,
       round(sib.median_read_per_second::numeric, 1) AS sibling_median_read_per_second,
       -- A running partition holding its step up: its lease expired, or at least half its
       -- siblings are done and it has run 1.5 times longer than their median.
       coalesce(p.state = 'CLAIMED'
                AND (p.lease_expires_at < now()
                     OR (sib.completed * 2 >= sib.partitions AND t.elapsed > 1.5 * sib.median_seconds)),
                false) AS straggler
FROM batch_step_execution s
JOIN batch_job_execution e ON e.job_execution_id = s.job_execution_id
JOIN batch_job_instance i ON i.job_instance_id = e.job_instance_id
LEFT JOIN batch_partition p ON p.step_execution_id = s.step_execution_id
CROSS JOIN LATERAL (
    SELECT extract(epoch FROM coalesce(s.end_time, now() AT TIME ZONE 'UTC') - s.start_time) AS elapsed
) t
LEFT JOIN LATERAL (
    SELECT count(*) AS partitions,
           count(*) FILTER (WHERE sp.state = 'COMPLETED') AS completed,
           percentile_cont(0.5) WITHIN GROUP (
               ORDER BY extract(epoch FROM ss.end_time - ss.start_time)::double precision)
               FILTER (WHERE sp.state = 'COMPLETED') AS median_seconds,
           percentile_cont(0.5) WITHIN GROUP (
               ORDER BY (ss.read_count / nullif(extract(epoch FROM ss.end_time - ss.start_time), 0))::double precision)
               FILTER (WHERE sp.state = 'COMPLETED') AS median_read_per_second
    FROM batch_partition sp
    JOIN batch_step_execution ss ON ss.step_execution_id = sp.step_execution_id
    -- The outer condition gates the whole subquery: only running partitions pay for it.
    WHERE sp.manager_step_execution_id = p.manager_step_execution_id AND p.state = 'CLAIMED'
    HAVING count(*) > 0
) sib ON true;

-- Running partitions that hold their step up (see `straggler` above), with the reason.
CREATE OR REPLACE VIEW batch_dashboard_stragglers AS
SELECT job_name,
       job_execution_id,
       step_execution_id,
       step,
       partition_name,
       partition_id,
       owner,
       attempt,
       read_count,
       elapsed_seconds,
       read_per_second,
       sibling_partitions,
       siblings_completed,
       sibling_median_seconds,
       sibling_median_read_per_second,
       lease_remaining_seconds,
       last_commit_age_seconds,
       CASE WHEN lease_remaining_seconds < 0 THEN 'lease expired: its worker stopped renewing it'
            ELSE 'running 1.5 times longer than the median of its completed siblings' END AS reason
FROM batch_dashboard_steps
-- The first condition lets the planner start from the few claimed partitions (indexed).
WHERE partition_state = 'CLAIMED' AND straggler;

-- Job overview: one row per job instance, about its last execution.
CREATE OR REPLACE VIEW batch_dashboard_jobs AS
SELECT i.job_name,
       i.job_instance_id,
       e.job_execution_id,
       e.status,
       e.exit_code,
       e.exit_message,
       e.create_time AT TIME ZONE 'UTC' AS create_time,
       e.start_time AT TIME ZONE 'UTC' AS start_time,
       e.end_time AT TIME ZONE 'UTC' AS end_time,
       e.last_updated AT TIME ZONE 'UTC' AS last_updated,
       -- Until now while it runs.
       round(extract(epoch FROM coalesce(e.end_time, now() AT TIME ZONE 'UTC') - e.start_time), 3) AS duration_seconds,
       coalesce(s.read_count, 0) AS read_count,
       coalesce(s.write_count, 0) AS write_count,
       coalesce(s.filter_count, 0) AS filter_count,
       coalesce(s.skip_count, 0) AS skip_count,
       coalesce(s.commit_count, 0) AS commit_count,
       coalesce(s.rollback_count, 0) AS rollback_count,
       coalesce(s.steps, 0) AS steps,
       x.executions,
       -- Over every execution of the instance: what its plain steps and partitions did (a
       -- restart's manager step counts its reused COMPLETED partitions again; these do not).
       x.instance_read_count,
       x.instance_write_count,
       l.host AS launcher_host,
       l.pid AS launcher_pid,
       -- Only while the execution runs: how long ago its launching process last heartbeated.
       CASE WHEN e.status IN ('STARTING', 'STARTED', 'STOPPING')
            THEN round(extract(epoch FROM now() - l.heartbeat_at), 1) END AS launcher_heartbeat_age_seconds
FROM batch_job_instance i
JOIN LATERAL (
    SELECT le.job_execution_id, le.status, le.exit_code, le.exit_message, le.create_time, le.start_time,
           le.end_time, le.last_updated
    FROM batch_job_execution le
    WHERE le.job_instance_id = i.job_instance_id
    ORDER BY le.job_execution_id DESC
    LIMIT 1
) e ON true
CROSS JOIN LATERAL (
    SELECT (SELECT count(*) FROM batch_job_execution ce WHERE ce.job_instance_id = i.job_instance_id) AS executions,
           coalesce(sum(ds.read_count), 0)::bigint AS instance_read_count,
           coalesce(sum(ds.write_count), 0)::bigint AS instance_write_count
    FROM batch_dashboard_steps ds
    WHERE ds.job_instance_id = i.job_instance_id AND ds.kind <> 'manager'
) x
LEFT JOIN LATERAL (
    SELECT sum(se.read_count)::bigint AS read_count,
           sum(se.write_count)::bigint AS write_count,
           sum(se.filter_count)::bigint AS filter_count,
           sum(se.read_skip_count + se.process_skip_count + se.write_skip_count)::bigint AS skip_count,
           sum(se.commit_count)::bigint AS commit_count,
           sum(se.rollback_count)::bigint AS rollback_count,
           count(*) AS steps
    FROM batch_step_execution se
    WHERE se.job_execution_id = e.job_execution_id AND strpos(se.step_name, ':') = 0
) s ON true
LEFT JOIN batch_job_launcher l ON l.job_execution_id = e.job_execution_id;

-- Worker health: one row per registered worker (rows stay after a worker stops or dies).
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
       -- Workers heartbeat every third of their lease (10 s with the default 30 s lease):
       -- live within one default lease, stale up to four (its leases have run out and its
       -- partitions go to others), dead beyond; stopped when it exited gracefully.
       CASE WHEN w.state = 'STOPPED' THEN 'stopped'
            WHEN now() - w.heartbeat_at < interval '30 seconds' THEN 'live'
            WHEN now() - w.heartbeat_at < interval '120 seconds' THEN 'stale'
            ELSE 'dead' END AS health,
       h.partitions_held,
       h.expired_leases,
       h.held
FROM batch_worker w
CROSS JOIN LATERAL (
    SELECT count(*) AS partitions_held,
           count(*) FILTER (WHERE p.lease_expires_at < now()) AS expired_leases,
           string_agg(p.worker_step || ':' || p.partition_name, ', ' ORDER BY p.partition_id) AS held
    FROM batch_partition p
    WHERE p.owner = w.worker_id AND p.state = 'CLAIMED'
) h;

-- Failures: failed (or UNKNOWN) job executions, steps and partitions, with their messages and
-- what became of the job instance since (its latest execution's status).
CREATE OR REPLACE VIEW batch_dashboard_failures AS
SELECT f.level,
       i.job_name,
       i.job_instance_id,
       f.job_execution_id,
       f.step_execution_id,
       f.step_name,
       f.partition_name,
       f.status,
       f.exit_code,
       f.exit_message,
       f.partition_error,
       f.attempt,
       f.end_time AT TIME ZONE 'UTC' AS end_time,
       latest.job_execution_id AS instance_latest_execution_id,
       latest.status AS instance_latest_status
FROM (
    SELECT 'job' AS level, e.job_execution_id, e.job_instance_id, NULL::bigint AS step_execution_id,
           NULL::varchar AS step_name, NULL::varchar AS partition_name, e.status, e.exit_code, e.exit_message,
           NULL::varchar AS partition_error, NULL::integer AS attempt, e.end_time
    FROM batch_job_execution e
    WHERE e.status IN ('FAILED', 'UNKNOWN')
    UNION ALL
    SELECT CASE WHEN strpos(s.step_name, ':') > 0 THEN 'partition' ELSE 'step' END, s.job_execution_id,
           e.job_instance_id, s.step_execution_id, s.step_name::varchar,
           coalesce(p.partition_name,
                    CASE WHEN strpos(s.step_name, ':') > 0 THEN substr(s.step_name, strpos(s.step_name, ':') + 1) END)::varchar,
           s.status, s.exit_code, s.exit_message, p.last_error::varchar, p.attempt, s.end_time
    FROM batch_step_execution s
    JOIN batch_job_execution e ON e.job_execution_id = s.job_execution_id
    LEFT JOIN batch_partition p ON p.step_execution_id = s.step_execution_id
    WHERE s.status IN ('FAILED', 'UNKNOWN')
) f
JOIN batch_job_instance i ON i.job_instance_id = f.job_instance_id
CROSS JOIN LATERAL (
    SELECT le.job_execution_id, le.status FROM batch_job_execution le
    WHERE le.job_instance_id = f.job_instance_id
    ORDER BY le.job_execution_id DESC
    LIMIT 1
) latest;

-- Skipped items: every item a skip policy let through, with where and why.
CREATE OR REPLACE VIEW batch_dashboard_skipped_items AS
SELECT k.skipped_item_id,
       k.created_at AT TIME ZONE 'UTC' AS created_at,
       i.job_name,
       k.job_execution_id,
       k.step_execution_id,
       k.step_name,
       split_part(k.step_name, ':', 1) AS step,
       CASE WHEN strpos(k.step_name, ':') > 0 THEN substr(k.step_name, strpos(k.step_name, ':') + 1) END AS partition_name,
       k.phase,
       k.item_key,
       k.reason
FROM batch_skipped_item k
JOIN batch_job_execution e ON e.job_execution_id = k.job_execution_id
JOIN batch_job_instance i ON i.job_instance_id = e.job_instance_id;

-- Throughput per minute and job. The repository keeps only each step execution's totals, not
-- per-chunk times, so this is an estimate: each step execution's (or partition's) counts are
-- spread evenly over its run, from its start to its end (to its last commit while it runs).
-- Totals over whole runs are exact; within a run, each minute shows the step's average rate.
-- Manager steps are left out: their partitions are counted instead.
CREATE OR REPLACE VIEW batch_dashboard_throughput AS
SELECT m.minute,
       r.job_name,
       round(sum(r.write_count * m.share), 2) AS items_written,
       round(sum(r.read_count * m.share), 2) AS items_read,
       count(*) AS step_executions
FROM (
    SELECT job_name, step_execution_id, read_count, write_count, start_time,
           greatest(start_time, coalesce(end_time, last_updated)) AS stop_time
    FROM batch_dashboard_steps
    WHERE kind <> 'manager' AND start_time IS NOT NULL AND (read_count > 0 OR write_count > 0)
) r
CROSS JOIN LATERAL (
    SELECT g.minute,
           CASE WHEN r.stop_time = r.start_time THEN 1
                ELSE extract(epoch FROM least(r.stop_time, g.minute + interval '1 minute') - greatest(r.start_time, g.minute))
                     / extract(epoch FROM r.stop_time - r.start_time) END AS share
    FROM generate_series(date_trunc('minute', r.start_time), date_trunc('minute', r.stop_time), interval '1 minute') AS g(minute)
) m
GROUP BY m.minute, r.job_name;
