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
-- Row-level security (migration 13 and the end of this script) narrows a worker to its own
-- rows: it changes only the partitions and remote chunks whose claim is held by a worker its
-- login registered (and their step executions), and reads parameters and contexts only of the
-- job executions it holds a claim in. Give each worker host a login of its own for isolation
-- between hosts; docs/OPERATIONS.md says what a shared login still guarantees. Launchers and
-- dashboards see every row. The owner, superusers and BYPASSRLS roles are not filtered; any
-- other role sees no row of these tables unless it is a member of one of the three roles.
--
-- Run it as the repository's owner (or a superuser), in the repository's database, after
-- `swiftbatch migrate` and again after every upgrade. The first run on a server needs CREATEROLE
-- (a superuser, or the owner with CREATEROLE) to create the roles; later runs need only the
-- ownership of the tables. It is one transaction and safe to repeat: each run first revokes
-- what the roles had on the repository, then grants exactly what is below.
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f sql/roles.sql

BEGIN;

-- The row-level security below needs migration 13.
DO $$
DECLARE
    installed integer;
BEGIN
    SELECT max(version) INTO installed FROM swiftbatch_schema_version;
    IF coalesce(installed, 0) < 13 THEN
        RAISE EXCEPTION 'sql/roles.sql needs the SwiftBatch schema at version 13 or later, and this database has version %', coalesce(installed, 0)
            USING HINT = 'run `swiftbatch migrate` on this database first, then this script again';
    END IF;
END
$$;

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
REVOKE ALL ON FUNCTION
    batch_rls_holds_job(bigint, name), batch_rls_holds_chunk_of(bigint, name),
    batch_fail_expired_partitions(bigint), batch_fail_expired_remote_chunks(bigint), batch_claim_owner_role()
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
-- (FOR UPDATE needs UPDATE), has the repository fail partitions whose lease expired on their
-- last attempt (an owner's function), and registers and heartbeats its batch_worker row. Remote
-- chunks likewise: claimed, renewed, marked DONE or FAILED (never inserted: the manager does
-- that). Updates are of the columns a worker writes only: never the ids that tie a row to its
-- job, step or worker's login (a claim could otherwise be pointed at another job's step).
GRANT SELECT ON TABLE
    swiftbatch_schema_version,
    batch_job_instance, batch_job_execution, batch_job_execution_params, batch_job_execution_context,
    batch_step_execution, batch_step_execution_context, batch_partition, batch_worker, batch_remote_chunk
TO swiftbatch_worker;
GRANT UPDATE (version, status, start_time, end_time, commit_count, read_count, filter_count, write_count,
    read_skip_count, write_skip_count, process_skip_count, rollback_count, exit_code, exit_message, last_updated)
ON TABLE batch_step_execution TO swiftbatch_worker;
GRANT UPDATE (short_context, serialized_context) ON TABLE batch_step_execution_context TO swiftbatch_worker;
GRANT UPDATE (state, owner, attempt, lease_expires_at, updated_at, last_error) ON TABLE batch_partition TO swiftbatch_worker;
GRANT UPDATE (state, owner, attempt, lease_expires_at, updated_at, last_error, items, write_count, filter_count,
    process_skip_count, write_skip_count)
ON TABLE batch_remote_chunk TO swiftbatch_worker;
GRANT UPDATE (host, pid, concurrency, steps, state, heartbeat_at, lease_seconds, db_role)
ON TABLE batch_worker TO swiftbatch_worker;
GRANT INSERT ON TABLE batch_worker, batch_skipped_item TO swiftbatch_worker;
GRANT USAGE ON SEQUENCE batch_skipped_item_skipped_item_id_seq TO swiftbatch_worker;
GRANT EXECUTE ON FUNCTION
    batch_rls_holds_job(bigint, name), batch_rls_holds_chunk_of(bigint, name),
    batch_fail_expired_partitions(bigint), batch_fail_expired_remote_chunks(bigint)
TO swiftbatch_worker;

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
-- A manager writes its steps and partitions whole (a restart moves partitions and remote chunks
-- to its new step execution; a recovery fails them).
GRANT UPDATE ON TABLE batch_step_execution, batch_step_execution_context, batch_partition, batch_remote_chunk
TO swiftbatch_launcher;
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

-- Row-level security. Policies are permissive (a row passes if any policy of the user's roles
-- lets it), so a launcher, a member of swiftbatch_worker, sees all by its own. Each run drops
-- every policy on these tables and creates them anew.
DO $$
DECLARE
    table_name text;
    policy record;
BEGIN
    FOREACH table_name IN ARRAY ARRAY['batch_job_execution', 'batch_job_execution_params', 'batch_job_execution_context',
        'batch_step_execution', 'batch_step_execution_context', 'batch_skipped_item', 'batch_partition', 'batch_worker',
        'batch_remote_chunk'] LOOP
        FOR policy IN SELECT policyname FROM pg_policies
                      WHERE schemaname = (SELECT relnamespace::regnamespace::name FROM pg_class WHERE oid = table_name::regclass)
                        AND tablename = table_name LOOP
            EXECUTE format('DROP POLICY %I ON %I', policy.policyname, table_name);
        END LOOP;
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', table_name);
        -- Launchers and operators: every row (they create the jobs workers run).
        EXECUTE format('CREATE POLICY launcher_all ON %I TO swiftbatch_launcher USING (true) WITH CHECK (true)', table_name);
        -- Dashboards: every row of what they may read at all.
        IF table_name NOT IN ('batch_job_execution_params', 'batch_job_execution_context', 'batch_step_execution_context') THEN
            EXECUTE format('CREATE POLICY dashboard_read ON %I FOR SELECT TO swiftbatch_dashboard USING (true)', table_name);
        END IF;
    END LOOP;
END
$$;

-- A claim's owner_role follows its owner (migration 13's function), for every role, the owner
-- included: a claim taken over from another login's worker is no longer that login's. Claims
-- made before are brought up to date.
DROP TRIGGER IF EXISTS batch_partition_owner_role ON batch_partition;
CREATE TRIGGER batch_partition_owner_role BEFORE UPDATE OF owner ON batch_partition
    FOR EACH ROW WHEN (NEW.owner IS DISTINCT FROM OLD.owner) EXECUTE FUNCTION batch_claim_owner_role();
DROP TRIGGER IF EXISTS batch_remote_chunk_owner_role ON batch_remote_chunk;
CREATE TRIGGER batch_remote_chunk_owner_role BEFORE UPDATE OF owner ON batch_remote_chunk
    FOR EACH ROW WHEN (NEW.owner IS DISTINCT FROM OLD.owner) EXECUTE FUNCTION batch_claim_owner_role();
UPDATE batch_partition p SET owner_role = (SELECT w.db_role FROM batch_worker w WHERE w.worker_id = p.owner)
WHERE p.state = 'CLAIMED'
  AND p.owner_role IS DISTINCT FROM (SELECT w.db_role FROM batch_worker w WHERE w.worker_id = p.owner);
UPDATE batch_remote_chunk r SET owner_role = (SELECT w.db_role FROM batch_worker w WHERE w.worker_id = r.owner)
WHERE r.state = 'CLAIMED'
  AND r.owner_role IS DISTINCT FROM (SELECT w.db_role FROM batch_worker w WHERE w.worker_id = r.owner);

-- Workers: a worker row is its registering login's; a worker may see all of them (liveness).
CREATE POLICY worker_read ON batch_worker FOR SELECT TO swiftbatch_worker USING (true);
CREATE POLICY worker_register ON batch_worker FOR INSERT TO swiftbatch_worker WITH CHECK (db_role = current_user);
-- An id registered by another login cannot be re-registered (42501), nor a row handed to one.
CREATE POLICY worker_heartbeat ON batch_worker FOR UPDATE TO swiftbatch_worker
    USING (db_role = current_user) WITH CHECK (db_role = current_user);

-- Partitions: a worker sees the claimable ones, its own claims, and those of a job it holds a
-- claim in; it changes only claimable ones (claiming them) and the claims it holds (not its
-- finished ones), and every row it leaves is its own or handed back (READY, no owner): a claim
-- cannot be given to another login. A claim's owner_role is its worker's registering role (the
-- trigger above), so the test of a save (its own claim) is a column comparison.
CREATE POLICY worker_read ON batch_partition FOR SELECT TO swiftbatch_worker USING (
    state = 'READY'
    OR owner_role = current_user
    OR (state = 'CLAIMED' AND lease_expires_at < now() AND attempt < max_attempts)
    OR batch_rls_holds_job(job_execution_id, current_user));
CREATE POLICY worker_claim ON batch_partition FOR UPDATE TO swiftbatch_worker
    USING (
        state = 'READY'
        OR (state = 'CLAIMED'
            AND (owner_role = current_user OR (lease_expires_at < now() AND attempt < max_attempts))))
    WITH CHECK (owner_role = current_user OR (state = 'READY' AND owner IS NULL));

-- Remote chunks: the same, by the chunk's claim.
CREATE POLICY worker_read ON batch_remote_chunk FOR SELECT TO swiftbatch_worker USING (
    state = 'READY'
    OR owner_role = current_user
    OR (state = 'CLAIMED' AND lease_expires_at < now() AND attempt < max_attempts)
    OR batch_rls_holds_job(job_execution_id, current_user));
CREATE POLICY worker_claim ON batch_remote_chunk FOR UPDATE TO swiftbatch_worker
    USING (
        state = 'READY'
        OR (state = 'CLAIMED'
            AND (owner_role = current_user OR (lease_expires_at < now() AND attempt < max_attempts))))
    WITH CHECK (owner_role = current_user);

-- Step executions and their contexts: a worker reads those of the partitions it may see (above:
-- a claim returns the step execution with its checkpoint; a partition's skip limit adds up its
-- siblings' skips), and saves only the step execution of a partition it holds. The row it saves
-- stays that step execution (a worker may not update step_execution_id, above), so the new row
-- needs no second check: WITH CHECK (true). Every EXISTS of a policy ends in OFFSET 0, which
-- keeps it a probe by index for the row at hand: without it the planner may turn it into a
-- hashed subplan that reads every row the subquery could match (every open partition of every
-- job) on each save.
CREATE POLICY worker_read ON batch_step_execution FOR SELECT TO swiftbatch_worker USING (
    EXISTS (SELECT 1 FROM batch_partition p WHERE p.step_execution_id = batch_step_execution.step_execution_id OFFSET 0));
CREATE POLICY worker_save ON batch_step_execution FOR UPDATE TO swiftbatch_worker
    USING (EXISTS (SELECT 1 FROM batch_partition p
                   WHERE p.step_execution_id = batch_step_execution.step_execution_id
                     AND p.state = 'CLAIMED' AND p.owner_role = current_user OFFSET 0))
    WITH CHECK (true);
CREATE POLICY worker_read ON batch_step_execution_context FOR SELECT TO swiftbatch_worker USING (
    EXISTS (SELECT 1 FROM batch_partition p WHERE p.step_execution_id = batch_step_execution_context.step_execution_id OFFSET 0));
CREATE POLICY worker_save ON batch_step_execution_context FOR UPDATE TO swiftbatch_worker
    USING (EXISTS (SELECT 1 FROM batch_partition p
                   WHERE p.step_execution_id = batch_step_execution_context.step_execution_id
                     AND p.state = 'CLAIMED' AND p.owner_role = current_user OFFSET 0))
    WITH CHECK (true);

-- Skipped items: recorded only under a step whose partition, or one of whose remote chunks, the
-- worker holds, and only for that step's own job execution.
CREATE POLICY worker_record ON batch_skipped_item FOR INSERT TO swiftbatch_worker WITH CHECK (
    (EXISTS (SELECT 1 FROM batch_partition p
             WHERE p.step_execution_id = batch_skipped_item.step_execution_id
               AND p.state = 'CLAIMED' AND p.owner_role = current_user OFFSET 0)
     OR batch_rls_holds_chunk_of(step_execution_id, current_user))
    AND job_execution_id = (SELECT s.job_execution_id FROM batch_step_execution s
                            WHERE s.step_execution_id = batch_skipped_item.step_execution_id));

-- Job executions: a worker reads the row of a job with partitions or remote chunks it may see
-- open (a claim reads whether the job is stopping), and its parameters and context only while
-- it holds a claim in it.
CREATE POLICY worker_read ON batch_job_execution FOR SELECT TO swiftbatch_worker USING (
    EXISTS (SELECT 1 FROM batch_partition p
            WHERE p.job_execution_id = batch_job_execution.job_execution_id AND p.state IN ('READY', 'CLAIMED') OFFSET 0)
    OR EXISTS (SELECT 1 FROM batch_remote_chunk r
               WHERE r.job_execution_id = batch_job_execution.job_execution_id AND r.state IN ('READY', 'CLAIMED') OFFSET 0));
CREATE POLICY worker_read ON batch_job_execution_params FOR SELECT TO swiftbatch_worker
    USING (batch_rls_holds_job(job_execution_id, current_user));
CREATE POLICY worker_read ON batch_job_execution_context FOR SELECT TO swiftbatch_worker
    USING (batch_rls_holds_job(job_execution_id, current_user));

COMMIT;
