-- Spawned calls beyond what a function keeps in memory wait here, "parked", and are paged in
-- oldest first as the resident ones finish: a million pending spawns cost disk, not memory.

ALTER TABLE calls ADD COLUMN parked INTEGER NOT NULL DEFAULT 0;
CREATE INDEX calls_parked ON calls(function_id, created_at, id) WHERE parked = 1 AND state = 'pending';
