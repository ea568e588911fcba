-- A queue_items row holds a run of n consecutive items of its partition: seq is the first
-- one's, and the others are seq + 1 … seq + n - 1. A putMany writes a few rows, not one per
-- item (store/queue-runs.ts). n = 1: value is the item itself (every row written before this
-- migration); n > 1: value is n little-endian u32 lengths, then the items one after another.
-- A take of part of a run splits it into two rows; a row is leased, released and deleted
-- whole. The partition's size still counts items.
ALTER TABLE queue_items ADD COLUMN n INTEGER NOT NULL DEFAULT 1;
