-- SwiftBatch migration 8: remote chunking. A remote chunk step's manager reads items and puts
-- each chunk here as a durable row carrying its items, in the same transaction as its own
-- checkpoint (the reader's position after that chunk): a restarted manager neither loses nor
-- re-sends a chunk. Worker daemons claim rows with FOR UPDATE SKIP LOCKED, process and write
-- the items, and mark the row DONE with its reply counts in the same transaction as the
-- writes, fenced on (owner, attempt): a chunk is never written twice. A chunk whose holder's
-- lease expired is claimable again (the re-send); after max_attempts it is FAILED. A restart of
-- the step adopts the chunks of its earlier attempts and sends its FAILED ones again, re-read.
CREATE TABLE IF NOT EXISTS batch_remote_chunk (
    chunk_id bigserial PRIMARY KEY,
    -- The manager step execution the chunk belongs to now (a restart adopts the chunks of the
    -- step's earlier attempts, moving them here), and its job execution.
    step_execution_id bigint NOT NULL REFERENCES batch_step_execution (step_execution_id),
    job_execution_id bigint NOT NULL REFERENCES batch_job_execution (job_execution_id),
    -- The chunk's place in the step's input, from 0; unique per manager step execution.
    seq integer NOT NULL,
    -- The step a worker must have to process this chunk (`job/step`).
    worker_step varchar(100) NOT NULL,
    -- The items, as the step's codec wrote them (JSON); cleared once DONE.
    items text,
    item_count integer NOT NULL,
    -- The manager's step context before it read this chunk: a restart re-reads a FAILED chunk's
    -- items from there, so a row fixed in the source after the failure is read fixed.
    start_context text NOT NULL,
    state varchar(10) NOT NULL DEFAULT 'READY' CHECK (state IN ('READY', 'CLAIMED', 'DONE', 'FAILED')),
    owner varchar(200),
    attempt integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 3,
    lease_expires_at timestamptz,
    -- The worker's reply, written with its output.
    write_count bigint NOT NULL DEFAULT 0,
    filter_count bigint NOT NULL DEFAULT 0,
    last_error varchar(2500),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (step_execution_id, seq)
) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);

-- Items are written once and read once: lz4 compresses them at a fraction of pglz's cost, where
-- the server has it (a server built without lz4 keeps the default).
DO $$
BEGIN
    ALTER TABLE batch_remote_chunk ALTER COLUMN items SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    NULL;
END
$$;

-- Claims and the manager's count of chunks in flight look only at open rows, in (state, id)
-- order (expired claims before ready ones), as for partitions (migration 7).
CREATE INDEX IF NOT EXISTS batch_remote_chunk_claimable_idx
    ON batch_remote_chunk (worker_step, state, chunk_id)
    WHERE state IN ('READY', 'CLAIMED');
-- The manager's poll finds failed chunks without reading the done ones.
CREATE INDEX IF NOT EXISTS batch_remote_chunk_failed_idx
    ON batch_remote_chunk (step_execution_id, seq)
    WHERE state = 'FAILED';
CREATE INDEX IF NOT EXISTS batch_remote_chunk_job_execution_idx
    ON batch_remote_chunk (job_execution_id);
