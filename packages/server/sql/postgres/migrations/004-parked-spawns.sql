-- Parked spawned calls (mirrors sql/sqlite/migrations/004-parked-spawns.sql).

ALTER TABLE calls ADD COLUMN parked INTEGER NOT NULL DEFAULT 0;
CREATE INDEX calls_parked ON calls(function_id, created_at, id) WHERE parked = 1 AND state = 'pending';
