-- The fault campaigns' audit trail (scripts/chaos.sh, scripts/netfault-timeline.sh): every
-- write of a partition row made under a claim (a chunk's save renews the lease and sets
-- updated_at, a finish ends it, a hand-back makes it ready), with the name of the session that
-- made it (workers name theirs "swiftbatch worker <id>"). Claims, lease sweeps and restarts are
-- other writers and are not commits. A test instrument: never installed by migrate.
CREATE TABLE chaos_audit (
    seq bigserial PRIMARY KEY, partition_id bigint, holder text, attempt int, new_state text,
    session text, at timestamptz DEFAULT clock_timestamp());
CREATE FUNCTION chaos_audit_partition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.state = 'CLAIMED' AND NEW.updated_at IS DISTINCT FROM OLD.updated_at
       AND NEW.manager_step_execution_id = OLD.manager_step_execution_id
       AND ((NEW.owner = OLD.owner AND NEW.attempt = OLD.attempt
             AND coalesce(NEW.last_error, '') NOT LIKE 'its worker (%) stopped renewing the lease%')
            OR (NEW.state = 'READY' AND NEW.owner IS NULL AND NEW.attempt = OLD.attempt - 1)) THEN
        INSERT INTO chaos_audit (partition_id, holder, attempt, new_state, session)
        VALUES (NEW.partition_id, OLD.owner, OLD.attempt, NEW.state, current_setting('application_name'));
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER chaos_audit AFTER UPDATE ON batch_partition FOR EACH ROW EXECUTE FUNCTION chaos_audit_partition();
