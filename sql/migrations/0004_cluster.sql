-- SwiftBatch migration 4: the cluster. Partitioned steps put one row per partition here;
-- worker daemons claim rows with FOR UPDATE SKIP LOCKED, hold them by lease, and every commit
-- of a partition's chunk renews (and checks) the lease in the same transaction: a worker that
-- lost its lease can never commit. Workers register and heartbeat in batch_worker.

CREATE TABLE IF NOT EXISTS batch_partition (
    partition_id bigserial PRIMARY KEY,
    job_execution_id bigint NOT NULL REFERENCES batch_job_execution (job_execution_id),
    manager_step_execution_id bigint NOT NULL REFERENCES batch_step_execution (step_execution_id),
    step_execution_id bigint NOT NULL UNIQUE REFERENCES batch_step_execution (step_execution_id),
    job_name varchar(100) NOT NULL,
    -- The step a worker must have to run this partition.
    worker_step varchar(100) NOT NULL,
    partition_name varchar(100) NOT NULL,
    state varchar(10) NOT NULL DEFAULT 'READY'
        CHECK (state IN ('READY', 'CLAIMED', 'COMPLETED', 'FAILED', 'STOPPED')),
    owner varchar(200),
    attempt integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 3,
    lease_expires_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    last_error varchar(2500)
) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);

-- Claims look only at unfinished rows of the steps a worker serves: the index holds no
-- finished partition, so a history of millions costs a claim nothing.
CREATE INDEX IF NOT EXISTS batch_partition_claimable_idx
    ON batch_partition (worker_step, partition_id)
    WHERE state IN ('READY', 'CLAIMED');
-- The manager's one aggregate query, and restarts, go by manager step execution.
CREATE INDEX IF NOT EXISTS batch_partition_manager_idx
    ON batch_partition (manager_step_execution_id, state);
CREATE INDEX IF NOT EXISTS batch_partition_job_execution_idx
    ON batch_partition (job_execution_id);

CREATE TABLE IF NOT EXISTS batch_worker (
    worker_id varchar(200) PRIMARY KEY,
    host varchar(255) NOT NULL,
    pid integer NOT NULL,
    concurrency integer NOT NULL,
    steps text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    state varchar(10) NOT NULL DEFAULT 'RUNNING' CHECK (state IN ('RUNNING', 'STOPPING', 'STOPPED'))
) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02);

CREATE INDEX IF NOT EXISTS batch_worker_heartbeat_idx ON batch_worker (heartbeat_at);
