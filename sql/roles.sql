-- SwiftBatch least-privilege roles: NOLOGIN group roles for the three kinds of client of a
-- job repository. Login users become members (docs/DASHBOARDS.md shows how):
--
--   swiftbatch_worker     `swiftbatch worker`: registers and heartbeats, claims partitions,
--                         saves their step executions, records skipped items.
--   swiftbatch_launcher   `swiftbatch launch`, `restart`, `stop`, `abandon`, `status`, `jobs`:
--                         creates instances, executions, steps and partitions; a member of
--                         swiftbatch_worker too, for `--local-workers`.
--   swiftbatch_dashboard  reads the batch_dashboard_* views and the tables behind them.
--
-- Nobody is granted DELETE, TRUNCATE, REFERENCES or TRIGGER, nor owns anything: only the owner
-- (whoever ran `swiftbatch migrate`) can drop or alter the tables, or prune history. Business
-- tables that jobs read and write are not covered: grant those per job.
--
-- Run it as the repository's owner (or a superuser), in the repository's database, after
-- `swiftbatch migrate` and again after every upgrade. The first run on a server needs CREATEROLE
-- (a superuser, or the owner with CREATEROLE) to create the roles; later runs need only the
-- ownership of the tables. It is one transaction and safe to repeat: each run first revokes
-- what the roles had on the repository, then grants exactly what is below.
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f sql/roles.sql

BEGIN;

DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['swiftbatch_worker', 'swiftbatch_launcher', 'swiftbatch_dashboard'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- created meanwhile by a concurrent run
            END;
        END IF;
    END LOOP;
END
$$;

-- Start from nothing on every repository object (PUBLIC included), so a re-run also takes back
-- whatever is no longer granted below.
REVOKE ALL ON TABLE
    swiftbatch_schema_version,
    batch_job_instance, batch_job_execution, batch_job_execution_params, batch_job_execution_context,
    batch_step_execution, batch_step_execution_context, batch_skipped_item,
    batch_partition, batch_worker, batch_job_launcher, batch_remote_chunk, batch_operator_action,
    batch_dashboard_jobs, batch_dashboard_steps, batch_dashboard_stragglers, batch_dashboard_workers,
    batch_dashboard_failures, batch_dashboard_skipped_items, batch_dashboard_throughput
FROM PUBLIC, swiftbatch_worker, swiftbatch_launcher, swiftbatch_dashboard;
REVOKE ALL ON SEQUENCE
    batch_job_seq, batch_job_execution_seq, batch_step_execution_seq,
    batch_skipped_item_skipped_item_id_seq, batch_partition_partition_id_seq, batch_remote_chunk_chunk_id_seq,
    batch_operator_action_action_id_seq
FROM PUBLIC, swiftbatch_worker, swiftbatch_launcher, swiftbatch_dashboard;

-- The schema holding the repository must be usable (PostgreSQL grants USAGE on `public` to
-- everyone; another schema needs it granted).
DO $$
DECLARE
    repository_schema name;
    role_name text;
BEGIN
    SELECT n.nspname INTO repository_schema
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = 'batch_job_instance'::regclass;
    FOREACH role_name IN ARRAY ARRAY['swiftbatch_worker', 'swiftbatch_launcher', 'swiftbatch_dashboard'] LOOP
        IF NOT has_schema_privilege(role_name, repository_schema, 'USAGE') THEN
            EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', repository_schema, role_name);
        END IF;
    END LOOP;
END
$$;

-- Workers. Every command checks the schema version first. A worker reads the job execution,
-- its parameters and context and the partition's step execution; it saves that step execution
-- (counts, status, context) with the partition's lease in one statement, claims partitions
-- (FOR UPDATE needs UPDATE), fails partitions whose lease expired on their last attempt, and
-- registers and heartbeats its batch_worker row. Remote chunks likewise: claimed, renewed,
-- marked DONE or FAILED (never inserted: the manager does that).
GRANT SELECT ON TABLE
    swiftbatch_schema_version,
    batch_job_instance, batch_job_execution, batch_job_execution_params, batch_job_execution_context,
    batch_step_execution, batch_step_execution_context, batch_partition, batch_worker, batch_remote_chunk
TO swiftbatch_worker;
GRANT UPDATE ON TABLE batch_step_execution, batch_step_execution_context, batch_partition, batch_worker,
    batch_remote_chunk
TO swiftbatch_worker;
GRANT INSERT ON TABLE batch_worker, batch_skipped_item TO swiftbatch_worker;
GRANT USAGE ON SEQUENCE batch_skipped_item_skipped_item_id_seq TO swiftbatch_worker;

-- Launchers and operators: everything a worker may do (a launch with --local-workers is a
-- worker too, and a launch runs unpartitioned steps itself), plus creating instances,
-- executions, their parameters and contexts, steps, partitions and the launcher's row; updating
-- executions (stop, abandon, end) and the launcher's heartbeat. The instance row is only locked
-- (SELECT ... FOR UPDATE needs UPDATE on one column): no launcher ever changes it.
DO $$
BEGIN
    -- Only when missing: granting a membership takes CREATEROLE, which later runs by the
    -- owner alone need not have.
    IF NOT pg_has_role('swiftbatch_launcher', 'swiftbatch_worker', 'MEMBER') THEN
        GRANT swiftbatch_worker TO swiftbatch_launcher;
    END IF;
END
$$;
GRANT SELECT ON TABLE batch_job_launcher TO swiftbatch_launcher;
GRANT INSERT ON TABLE
    batch_job_instance, batch_job_execution, batch_job_execution_params, batch_job_execution_context,
    batch_step_execution, batch_step_execution_context, batch_partition, batch_job_launcher, batch_remote_chunk
TO swiftbatch_launcher;
GRANT UPDATE (version) ON TABLE batch_job_instance TO swiftbatch_launcher;
GRANT UPDATE ON TABLE batch_job_execution, batch_job_execution_context, batch_job_launcher TO swiftbatch_launcher;
GRANT USAGE ON SEQUENCE batch_job_seq, batch_job_execution_seq, batch_step_execution_seq, batch_partition_partition_id_seq,
    batch_remote_chunk_chunk_id_seq
TO swiftbatch_launcher;

-- The web dashboard's operator actions (`swiftbatch dashboard`): run with the operator's login,
-- each recorded in batch_operator_action. Only ever inserted.
GRANT SELECT, INSERT ON TABLE batch_operator_action TO swiftbatch_launcher;
GRANT USAGE ON SEQUENCE batch_operator_action_action_id_seq TO swiftbatch_launcher;

-- Dashboards: the views, and the tables behind them for queries of one's own. Not the
-- execution contexts nor the job parameters, which may hold paths or other values a dashboard
-- has no need to show.
GRANT SELECT ON TABLE
    batch_dashboard_jobs, batch_dashboard_steps, batch_dashboard_stragglers, batch_dashboard_workers,
    batch_dashboard_failures, batch_dashboard_skipped_items, batch_dashboard_throughput,
    swiftbatch_schema_version,
    batch_job_instance, batch_job_execution, batch_step_execution, batch_skipped_item,
    batch_partition, batch_worker, batch_job_launcher, batch_operator_action
TO swiftbatch_dashboard;
-- Remote chunks without their items (business data in flight).
GRANT SELECT (chunk_id, step_execution_id, job_execution_id, seq, worker_step, item_count, state, owner,
    attempt, max_attempts, lease_expires_at, write_count, filter_count, last_error, created_at, updated_at)
ON TABLE batch_remote_chunk TO swiftbatch_dashboard;

COMMIT;
