-- SwiftBatch migration 2: what Spring Batch leaves to luck, enforced by the database.

-- A step runs at most once per job execution (the launcher relies on this to attach, never
-- duplicate). Its leading column also serves the foreign key to batch_job_execution.
CREATE UNIQUE INDEX IF NOT EXISTS batch_step_execution_job_step_un
    ON batch_step_execution (job_execution_id, step_name);

-- At most one running execution per job instance, whatever the number of launchers racing:
-- the second INSERT gets a unique violation instead of a serialization retry loop.
CREATE UNIQUE INDEX IF NOT EXISTS batch_job_execution_one_running
    ON batch_job_execution (job_instance_id)
    WHERE status IN ('STARTING', 'STARTED', 'STOPPING');

-- Every foreign key is indexed, so deletes (prune) and joins (dashboards) never scan.
CREATE INDEX IF NOT EXISTS batch_job_execution_instance_idx
    ON batch_job_execution (job_instance_id);
CREATE INDEX IF NOT EXISTS batch_job_execution_params_execution_idx
    ON batch_job_execution_params (job_execution_id);

-- What dashboards and housekeeping filter by: the newest executions, and unfinished ones.
CREATE INDEX IF NOT EXISTS batch_job_execution_create_time_idx
    ON batch_job_execution (create_time);
CREATE INDEX IF NOT EXISTS batch_job_execution_unfinished_idx
    ON batch_job_execution (status)
    WHERE status IN ('STARTING', 'STARTED', 'STOPPING', 'UNKNOWN');
CREATE INDEX IF NOT EXISTS batch_job_instance_name_idx
    ON batch_job_instance (job_name);
