-- SwiftBatch migration 5: who launched each execution, and whether it is still alive.
-- The launching process writes its row in the transaction that creates the execution and
-- renews `lease_expires_at` by heartbeat while the job runs. A later launch of the same
-- instance may attach to a running execution only when its launcher's lease has run out: a
-- live launcher is never displaced. The row stays after the job ends, as a record of where
-- the execution was launched from.

CREATE TABLE IF NOT EXISTS batch_job_launcher (
    job_execution_id bigint PRIMARY KEY REFERENCES batch_job_execution (job_execution_id),
    -- host:pid:random, unique per launching process.
    owner varchar(200) NOT NULL,
    host varchar(255) NOT NULL,
    pid integer NOT NULL,
    -- How many times a later launch took the execution over from a launcher that had died.
    attachments integer NOT NULL DEFAULT 0,
    started_at timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    lease_expires_at timestamptz NOT NULL
) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02);
