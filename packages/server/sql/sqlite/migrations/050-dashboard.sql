-- The dashboard's reads: calls listed by app, function, status and time (newest first, cursor
-- paged on (created_at, id)), each attempt of a recorded input with its timing, and logs
-- filtered by input or container.

ALTER TABLE calls ADD COLUMN app_id TEXT;
-- pending | success | failure | init_failure | timeout | terminated | cancelled | expired
ALTER TABLE calls ADD COLUMN status TEXT NOT NULL DEFAULT 'pending';

-- A class instance's function id is "<class function id>.<hash>": its app is the class's.
UPDATE calls SET app_id = (
  SELECT f.app_id FROM functions f
  WHERE f.id = CASE WHEN instr(calls.function_id, '.') > 0
                    THEN substr(calls.function_id, 1, instr(calls.function_id, '.') - 1)
                    ELSE calls.function_id END
);
-- Ended calls from before this version: their outcome is CBOR, read back by the store once
-- (SqliteStore.backfillStatus); until then they are 'unknown'.
UPDATE calls SET status = CASE state WHEN 'pending' THEN 'pending' WHEN 'cancelled' THEN 'cancelled'
                                     WHEN 'expired' THEN 'expired' ELSE 'unknown' END;

CREATE INDEX calls_created ON calls(created_at, id);
CREATE INDEX calls_function_created ON calls(function_id, created_at, id);
CREATE INDEX calls_app_created ON calls(app_id, created_at, id);
CREATE INDEX calls_status_created ON calls(status, created_at, id);
CREATE INDEX calls_function_status_created ON calls(function_id, status, created_at, id);

-- One row per attempt of an input recorded in the call graph (spawned calls, calls made from
-- inside an input); maps and top-level .remote calls are not recorded. Trimmed with the graph.
CREATE TABLE attempts (
  input_id      TEXT NOT NULL,
  call_id       TEXT NOT NULL,
  attempt       INTEGER NOT NULL,
  container_id  TEXT,
  queued_at     INTEGER NOT NULL,
  started_at    INTEGER,
  ended_at      INTEGER,
  cold_start_ms INTEGER NOT NULL DEFAULT 0,
  status        TEXT NOT NULL,      -- running | success | failure | timeout | terminated | lost | cancelled
  PRIMARY KEY (input_id, attempt)
);
CREATE INDEX attempts_call ON attempts(call_id);
CREATE INDEX attempts_queued ON attempts(queued_at);

CREATE INDEX logs_input ON logs(input_id, seq) WHERE input_id IS NOT NULL;
CREATE INDEX logs_container ON logs(container_id, seq) WHERE container_id IS NOT NULL;
