-- Claims read partitions in (state, id) order within a worker step, through an index that
-- holds only open partitions. With the index of 0004 (worker_step, partition_id) the planner
-- could serve the claim's "ORDER BY partition_id" from the primary key instead, filtering out
-- every finished partition ahead of the open ones (it assumes open rows are spread evenly, but
-- partitions finish in id order): 50 ms a claim a fifth of the way through 100,000
-- partitions. Ordering by state as well is something only this index provides, so the claim
-- always reads just the rows it takes: 0.2 ms. Expired claims (CLAIMED) come before READY ones.
DROP INDEX IF EXISTS batch_partition_claimable_idx;
CREATE INDEX IF NOT EXISTS batch_partition_claimable_idx
    ON batch_partition (worker_step, state, partition_id)
    WHERE state IN ('READY', 'CLAIMED');
