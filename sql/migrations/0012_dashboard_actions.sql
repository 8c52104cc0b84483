-- SwiftBatch migration 12: the web dashboard (`swiftbatch dashboard`). Every action an operator
-- takes there (stop, restart, abandon, recover, launch) is recorded here: who, what, when, and
-- how it ended, whether it was carried out or refused. Rows are only ever inserted; pruning
-- history leaves them (no foreign key: the record outlives the execution it names).
CREATE TABLE IF NOT EXISTS batch_operator_action (
    action_id bigserial PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- The dashboard user who asked, as authenticated (never a password).
    actor varchar(200) NOT NULL,
    action varchar(20) NOT NULL CHECK (action IN ('stop', 'restart', 'abandon', 'recover', 'launch')),
    job_execution_id bigint,
    job_name varchar(100),
    -- What was asked beyond the execution: a launch's parameters, recover's decisions.
    detail varchar(2500),
    outcome varchar(10) NOT NULL CHECK (outcome IN ('done', 'refused', 'failed')),
    message varchar(2500),
    -- Where the request came from (the peer address the dashboard saw).
    client varchar(200)
);

CREATE INDEX IF NOT EXISTS batch_operator_action_created_idx
    ON batch_operator_action (created_at);
CREATE INDEX IF NOT EXISTS batch_operator_action_execution_idx
    ON batch_operator_action (job_execution_id) WHERE job_execution_id IS NOT NULL;

-- The dashboard's execution list filters by status and pages by id over the whole history:
-- this index serves "status = X AND job_execution_id < cursor ORDER BY job_execution_id DESC".
CREATE INDEX IF NOT EXISTS batch_job_execution_status_idx
    ON batch_job_execution (status, job_execution_id);
