-- SwiftBatch migration 3: every skipped item, with where and why, for operators and dashboards.
-- Rows are written in the transaction of the chunk that skipped the item, so a rolled-back chunk
-- leaves no skip record behind and a committed one always has its records.

CREATE TABLE IF NOT EXISTS batch_skipped_item (
    skipped_item_id bigserial PRIMARY KEY,
    job_execution_id bigint NOT NULL REFERENCES batch_job_execution (job_execution_id),
    step_execution_id bigint NOT NULL REFERENCES batch_step_execution (step_execution_id),
    step_name varchar(100) NOT NULL,
    phase varchar(10) NOT NULL CHECK (phase IN ('read', 'process', 'write')),
    item_key varchar(2500) NOT NULL,
    reason varchar(2500) NOT NULL,
    created_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE INDEX IF NOT EXISTS batch_skipped_item_job_execution_idx
    ON batch_skipped_item (job_execution_id);
CREATE INDEX IF NOT EXISTS batch_skipped_item_step_execution_idx
    ON batch_skipped_item (step_execution_id);
