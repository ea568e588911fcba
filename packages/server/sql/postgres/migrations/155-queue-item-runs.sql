-- A queue_items row holds a run of n consecutive items of its partition, as on SQLite
-- (sqlite/migrations/155-queue-item-runs.sql): seq is the first one's; n = 1: value is the
-- item itself. This store still writes one item per row (n = 1); its counts read sum(n), so
-- either shape counts right.
ALTER TABLE queue_items ADD COLUMN IF NOT EXISTS n INTEGER NOT NULL DEFAULT 1;
