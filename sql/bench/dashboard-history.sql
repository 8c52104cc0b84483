-- A long job history for measuring the web dashboard: defines pg_temp.generate_history(n),
-- which appends n finished job executions (one instance each, two steps each, a parameter,
-- a few skipped items) spread over the past, then one partitioned execution still running
-- (64 partitions: completed, claimed, ready, failed, one straggler) and three workers.
-- Everything is set-based (generate_series): a million executions take about a minute.
--
--   psql "$DATABASE_URL" -f sql/bench/dashboard-history.sql -c 'SELECT pg_temp.generate_history(1000000)'
--   (scripts/dashboard-history.sh N does this)
--
-- Run it against a scratch repository: it only ever adds rows, with ids after the ones there.
CREATE OR REPLACE FUNCTION pg_temp.generate_history(n bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    base bigint := coalesce((SELECT max(job_execution_id) FROM batch_job_execution), 0);
    instance_base bigint := coalesce((SELECT max(job_instance_id) FROM batch_job_instance), 0);
    step_base bigint := coalesce((SELECT max(step_execution_id) FROM batch_step_execution), 0);
    started timestamp := (now() AT TIME ZONE 'UTC') - make_interval(secs => n * 30 + 3600);
    live bigint;
    manager bigint;
BEGIN
    INSERT INTO batch_job_instance (job_instance_id, version, job_name, job_key)
    SELECT instance_base + g, 0, (ARRAY['ledger-etl', 'billing', 'csv-import', 'ledger-audit', 'nightly-report'])[1 + g % 5],
           md5('history-' || (instance_base + g))
    FROM generate_series(1, n) g;

    INSERT INTO batch_job_execution (job_execution_id, version, job_instance_id, create_time, start_time, end_time,
                                     status, exit_code, exit_message, last_updated)
    SELECT base + g, 2, instance_base + g, t, t + interval '1 second', t + make_interval(secs => 20 + g % 600),
           s, s, CASE s WHEN 'FAILED' THEN 'step load failed: row ' || g || ': value out of range' ELSE '' END,
           t + make_interval(secs => 20 + g % 600)
    FROM generate_series(1, n) g
    CROSS JOIN LATERAL (SELECT started + make_interval(secs => g * 30) AS t,
                               CASE WHEN g % 100 < 90 THEN 'COMPLETED' WHEN g % 100 < 96 THEN 'FAILED'
                                    WHEN g % 100 < 99 THEN 'STOPPED' ELSE 'ABANDONED' END AS s) x;

    INSERT INTO batch_job_execution_params (job_execution_id, parameter_name, parameter_type, parameter_value, identifying)
    SELECT base + g, 'run.id', 'java.lang.Long', g::text, 'Y' FROM generate_series(1, n) g;
    INSERT INTO batch_job_execution_context (job_execution_id, short_context)
    SELECT base + g, '{}' FROM generate_series(1, n) g;

    INSERT INTO batch_step_execution (step_execution_id, version, step_name, job_execution_id, create_time, start_time,
                                      end_time, status, commit_count, read_count, filter_count, write_count,
                                      read_skip_count, write_skip_count, process_skip_count, rollback_count,
                                      exit_code, exit_message, last_updated)
    SELECT step_base + (g - 1) * 2 + k, 3, (ARRAY['prepare', 'load'])[k], base + g, e.create_time, e.start_time,
           e.end_time, CASE WHEN k = 1 THEN 'COMPLETED' ELSE e.status END, 10, 1000 + g % 5000, g % 7,
           1000 + g % 5000 - g % 7, 0, 0, CASE WHEN g % 50 = 0 THEN 2 ELSE 0 END, 0,
           CASE WHEN k = 1 THEN 'COMPLETED' ELSE e.exit_code END, CASE WHEN k = 1 THEN '' ELSE e.exit_message END, e.end_time
    FROM generate_series(1, n) g
    JOIN batch_job_execution e ON e.job_execution_id = base + g
    CROSS JOIN generate_series(1, 2) k;
    INSERT INTO batch_step_execution_context (step_execution_id, short_context)
    SELECT step_base + g, '{}' FROM generate_series(1, n * 2) g;

    INSERT INTO batch_skipped_item (job_execution_id, step_execution_id, step_name, phase, item_key, reason, created_at)
    SELECT base + g, step_base + (g - 1) * 2 + 2, 'load', (ARRAY['read', 'process'])[1 + r], 'ledger id ' || (g * 10 + r),
           'unknown currency "XX' || r || '"', e.end_time
    FROM generate_series(50, n, 50) g
    JOIN batch_job_execution e ON e.job_execution_id = base + g
    CROSS JOIN generate_series(0, 1) r;

    -- One partitioned execution, running now.
    live := base + n + 1;
    manager := step_base + n * 2 + 1;
    INSERT INTO batch_job_instance VALUES (instance_base + n + 1, 0, 'ledger-etl', md5('history-live-' || live));
    INSERT INTO batch_job_execution VALUES (live, 1, instance_base + n + 1, (now() AT TIME ZONE 'UTC') - interval '10 minutes',
        (now() AT TIME ZONE 'UTC') - interval '10 minutes', NULL, 'STARTED', 'UNKNOWN', '', now() AT TIME ZONE 'UTC');
    INSERT INTO batch_job_execution_params VALUES (live, 'grid', 'java.lang.Long', '64', 'Y'), (live, 'chunk', 'java.lang.Long', '1000', 'N');
    INSERT INTO batch_job_execution_context (job_execution_id, short_context) VALUES (live, '{}');
    INSERT INTO batch_step_execution (step_execution_id, version, step_name, job_execution_id, create_time, start_time, status,
        commit_count, read_count, filter_count, write_count, read_skip_count, write_skip_count, process_skip_count,
        rollback_count, exit_code, exit_message, last_updated)
    VALUES (manager, 1, 'transform', live, (now() AT TIME ZONE 'UTC') - interval '10 minutes',
        (now() AT TIME ZONE 'UTC') - interval '10 minutes', 'STARTED', 0, 0, 0, 0, 0, 0, 0, 0, 'EXECUTING', '', now() AT TIME ZONE 'UTC');
    INSERT INTO batch_worker (worker_id, host, pid, concurrency, steps, started_at, heartbeat_at, state, lease_seconds) VALUES
        ('etl-host-1:4101:a1b2', 'etl-host-1', 4101, 4, 'ledger-etl/transform', now() - interval '2 hours', now() - interval '3 seconds', 'RUNNING', 30),
        ('etl-host-2:4202:c3d4', 'etl-host-2', 4202, 4, 'ledger-etl/transform', now() - interval '2 hours', now() - interval '70 seconds', 'RUNNING', 30),
        ('etl-host-3:4303:e5f6', 'etl-host-3', 4303, 2, 'ledger-etl', now() - interval '1 day', now() - interval '3 hours', 'RUNNING', 30)
    ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at;
    INSERT INTO batch_step_execution (step_execution_id, version, step_name, job_execution_id, create_time, start_time, end_time,
        status, commit_count, read_count, filter_count, write_count, read_skip_count, write_skip_count, process_skip_count,
        rollback_count, exit_code, exit_message, last_updated)
    SELECT manager + p, 2, 'transform:p' || (p - 1), live, (now() AT TIME ZONE 'UTC') - interval '10 minutes',
           CASE WHEN p <= 56 THEN st END,
           CASE WHEN p <= 48 THEN st + make_interval(secs => 60 + p % 7 * 5) END,
           CASE WHEN p <= 48 THEN 'COMPLETED' WHEN p = 49 THEN 'FAILED' WHEN p <= 56 THEN 'STARTED' ELSE 'STARTING' END,
           CASE WHEN p <= 56 THEN 50 ELSE 0 END, CASE WHEN p <= 48 THEN 50000 WHEN p <= 56 THEN 20000 + p * 300 ELSE 0 END, 0,
           CASE WHEN p <= 48 THEN 50000 WHEN p <= 56 THEN 20000 + p * 300 ELSE 0 END, 0, 0, 0, 0,
           CASE WHEN p <= 48 THEN 'COMPLETED' WHEN p = 49 THEN 'FAILED' ELSE 'EXECUTING' END,
           CASE WHEN p = 49 THEN 'bench_txn id 1234567: unknown currency "XXX"' ELSE '' END,
           CASE WHEN p <= 48 THEN st + make_interval(secs => 60 + p % 7 * 5) ELSE now() AT TIME ZONE 'UTC' END
    FROM generate_series(1, 64) p
    CROSS JOIN LATERAL (SELECT (now() AT TIME ZONE 'UTC') - interval '10 minutes' + make_interval(secs => (p - 1) / 8 * 70) AS st) x;
    INSERT INTO batch_partition (job_execution_id, manager_step_execution_id, step_execution_id, job_name, worker_step,
        partition_name, state, owner, attempt, max_attempts, lease_expires_at, updated_at, last_error)
    SELECT live, manager, manager + p, 'ledger-etl', 'transform', 'p' || (p - 1),
           CASE WHEN p <= 48 THEN 'COMPLETED' WHEN p = 49 THEN 'FAILED' WHEN p <= 56 THEN 'CLAIMED' ELSE 'READY' END,
           CASE WHEN p <= 56 THEN (ARRAY['etl-host-1:4101:a1b2', 'etl-host-2:4202:c3d4'])[1 + p % 2] END,
           CASE WHEN p = 49 THEN 3 WHEN p <= 56 THEN 1 ELSE 0 END, 3,
           CASE WHEN p BETWEEN 50 AND 56 THEN now() + CASE WHEN p % 2 = 1 THEN interval '-40 seconds' ELSE interval '25 seconds' END END,
           now(), CASE WHEN p = 49 THEN 'bench_txn id 1234567: unknown currency "XXX"' END
    FROM generate_series(1, 64) p;

    PERFORM setval('batch_job_seq', instance_base + n + 1);
    PERFORM setval('batch_job_execution_seq', live);
    PERFORM setval('batch_step_execution_seq', manager + 64);
    RETURN format('%s executions (%s to %s) and a running partitioned execution %s', n, base + 1, base + n, live);
END
$$;
