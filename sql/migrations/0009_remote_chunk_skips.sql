-- SwiftBatch migration 9: skips in remote chunking. A worker that skips items of a chunk (the
-- step's skip policy, while processing or writing) records them in batch_skipped_item and their
-- numbers here, with its reply and in the same transaction as the chunk's output; the step's
-- skip counts are the sums over its DONE chunks, and the skip limit holds for their total.
ALTER TABLE batch_remote_chunk ADD COLUMN IF NOT EXISTS process_skip_count bigint NOT NULL DEFAULT 0;
ALTER TABLE batch_remote_chunk ADD COLUMN IF NOT EXISTS write_skip_count bigint NOT NULL DEFAULT 0;
