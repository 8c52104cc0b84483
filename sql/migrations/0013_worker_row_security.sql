-- SwiftBatch migration 13: what row-level security needs to tell one worker login's rows from
-- another's (sql/roles.sql turns the policies on; without it nothing here changes behaviour).
--
-- Each worker row records the database role that registered it, and each claimed partition and
-- remote chunk the role of its owner's worker (`owner_role`, NULL for an owner no worker row
-- names). So "this claim is held by the current login" is a comparison of a column,
-- owner_role = current_user, which costs a policy nothing on every chunk's save. Worker rows
-- from before this migration are the migrating role's.
ALTER TABLE batch_worker ADD COLUMN IF NOT EXISTS db_role name NOT NULL DEFAULT current_user;
ALTER TABLE batch_partition ADD COLUMN IF NOT EXISTS owner_role name;
ALTER TABLE batch_remote_chunk ADD COLUMN IF NOT EXISTS owner_role name;

-- Keeps a claim's owner_role its worker's registering role whoever writes the owner, so a
-- worker cannot claim in the name of another login's worker (its policy then refuses the row).
-- sql/roles.sql makes it a trigger on both tables, firing only when the owner changes (a claim,
-- a hand-back): without row-level security in use, no claim pays for it.
CREATE OR REPLACE FUNCTION batch_claim_owner_role() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    NEW.owner_role := (SELECT w.db_role FROM batch_worker w WHERE w.worker_id = NEW.owner);
    RETURN NEW;
END
$$;

-- The open partitions and remote chunks of a job execution, by state: which job executions a
-- login holds a claim in (CLAIMED) and which have work left (READY or CLAIMED), each one index
-- seek however many partitions a job has or had.
CREATE INDEX IF NOT EXISTS batch_partition_open_job_idx
    ON batch_partition (job_execution_id, state) WHERE state IN ('READY', 'CLAIMED');
CREATE INDEX IF NOT EXISTS batch_remote_chunk_open_job_idx
    ON batch_remote_chunk (job_execution_id, state) WHERE state IN ('READY', 'CLAIMED');

-- The questions the worker policies of sql/roles.sql ask that a policy cannot ask inline: a
-- policy on batch_partition that reads batch_partition (or a table whose policy reads it back)
-- is refused as recursion. SECURITY DEFINER: they run as the repository's owner, which
-- row-level security does not filter. Each takes the asking role (the policies pass
-- current_user) and only answers yes or no. Their search_path is pinned below to the
-- repository's schema.

-- `role` holds a claim (a CLAIMED partition or remote chunk of one of its workers) in job
-- execution `job`: it may read the job's parameters and contexts and its partitions' steps.
CREATE OR REPLACE FUNCTION batch_rls_holds_job(job bigint, role name) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM batch_partition p
                   WHERE p.job_execution_id = job AND p.state = 'CLAIMED' AND p.owner_role = role)
        OR EXISTS (SELECT 1 FROM batch_remote_chunk r
                   WHERE r.job_execution_id = job AND r.state = 'CLAIMED' AND r.owner_role = role);
END
$$;

-- `role` holds a remote chunk of the manager step execution `step`: it may record the chunk's
-- skipped items under that step.
CREATE OR REPLACE FUNCTION batch_rls_holds_chunk_of(step bigint, role name) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM batch_remote_chunk r
                   WHERE r.step_execution_id = step AND r.state = 'CLAIMED' AND r.owner_role = role);
END
$$;

-- The sweeps: partitions and remote chunks whose lease ran out on their last allowed attempt
-- are FAILED, saying why (with a partition's step execution), and the managers woken (on the
-- channels of ClusterChannels). Any worker may run them, whichever login's claim ran out: they
-- do this and nothing else, as the owner, so no worker needs the right to write another
-- login's rows. `manager`: only that manager step execution's (NULL: all). Returns how many
-- were failed.
CREATE OR REPLACE FUNCTION batch_fail_expired_partitions(manager bigint) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
DECLARE
    failed integer;
BEGIN
    -- Each form is its own statement, so each uses its index.
    IF manager IS NULL THEN
        WITH expired AS (
            UPDATE batch_partition SET state = 'FAILED', updated_at = now(),
                last_error = 'its worker (' || coalesce(owner, '?') || ') stopped renewing the lease on attempt '
                             || attempt || ' of ' || max_attempts || coalesce('; it last reported: ' || last_error, '')
            WHERE state IN ('READY', 'CLAIMED') AND state = 'CLAIMED' AND lease_expires_at < now() AND attempt >= max_attempts
            RETURNING step_execution_id, last_error
        ), steps AS (
            UPDATE batch_step_execution s SET status = 'FAILED', exit_code = 'FAILED',
                exit_message = expired.last_error, end_time = now() AT TIME ZONE 'UTC', version = s.version + 1
            FROM expired WHERE s.step_execution_id = expired.step_execution_id
        )
        SELECT count(*) INTO failed FROM expired;
    ELSE
        WITH expired AS (
            UPDATE batch_partition SET state = 'FAILED', updated_at = now(),
                last_error = 'its worker (' || coalesce(owner, '?') || ') stopped renewing the lease on attempt '
                             || attempt || ' of ' || max_attempts || coalesce('; it last reported: ' || last_error, '')
            WHERE manager_step_execution_id = manager AND state = 'CLAIMED' AND lease_expires_at < now()
              AND attempt >= max_attempts
            RETURNING step_execution_id, last_error
        ), steps AS (
            UPDATE batch_step_execution s SET status = 'FAILED', exit_code = 'FAILED',
                exit_message = expired.last_error, end_time = now() AT TIME ZONE 'UTC', version = s.version + 1
            FROM expired WHERE s.step_execution_id = expired.step_execution_id
        )
        SELECT count(*) INTO failed FROM expired;
    END IF;
    IF failed > 0 THEN
        PERFORM pg_notify('swiftbatch_partition_done', '');
    END IF;
    RETURN failed;
END
$$;

CREATE OR REPLACE FUNCTION batch_fail_expired_remote_chunks(manager bigint) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
DECLARE
    failed integer;
    steps text[];
    step text;
BEGIN
    WITH expired AS (
        UPDATE batch_remote_chunk SET state = 'FAILED', updated_at = now(),
            last_error = 'its worker (' || coalesce(owner, '?') || ') stopped renewing the lease on attempt '
                         || attempt || ' of ' || max_attempts
        WHERE state IN ('READY', 'CLAIMED') AND state = 'CLAIMED' AND lease_expires_at < now()
          AND attempt >= max_attempts AND (manager IS NULL OR step_execution_id = manager)
        RETURNING worker_step
    )
    SELECT count(*), array_agg(DISTINCT worker_step) INTO failed, steps FROM expired;
    FOREACH step IN ARRAY coalesce(steps, ARRAY[]::text[]) LOOP
        PERFORM pg_notify('swiftbatch_remote_chunk_done', step);
    END LOOP;
    RETURN failed;
END
$$;

DO $$
DECLARE
    repository_schema name;
    function_signature text;
BEGIN
    SELECT n.nspname INTO repository_schema
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = 'batch_partition'::regclass;
    FOREACH function_signature IN ARRAY ARRAY[
        'batch_claim_owner_role()', 'batch_rls_holds_job(bigint, name)', 'batch_rls_holds_chunk_of(bigint, name)',
        'batch_fail_expired_partitions(bigint)', 'batch_fail_expired_remote_chunks(bigint)'
    ] LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', function_signature, repository_schema);
    END LOOP;
END
$$;
