-- The dashboard's reads (mirrors sqlite/migrations/050-dashboard.sql): calls listed by app,
-- function, status and time, newest first, cursor paged on (created_at, id); attempts of
-- recorded inputs with their timing; logs by input or container.

ALTER TABLE calls ADD COLUMN app_id TEXT;
-- pending | success | failure | init_failure | timeout | terminated | cancelled | expired
ALTER TABLE calls ADD COLUMN status TEXT NOT NULL DEFAULT 'pending';

UPDATE calls SET app_id = (
  SELECT f.app_id FROM functions f WHERE f.id = split_part(calls.function_id, '.', 1)
);
-- Ended calls from before this version: their outcome is CBOR; shown as 'terminated' when
-- it cannot be read here (SQLite reads them back; a Postgres store starts with this version).
UPDATE calls SET status = CASE state WHEN 'pending' THEN 'pending' WHEN 'cancelled' THEN 'cancelled'
                                     WHEN 'expired' THEN 'expired' ELSE 'terminated' END;

CREATE INDEX calls_created ON calls(created_at, id);
CREATE INDEX calls_function_created ON calls(function_id, created_at, id);
CREATE INDEX calls_app_created ON calls(app_id, created_at, id);
CREATE INDEX calls_status_created ON calls(status, created_at, id);
CREATE INDEX calls_function_status_created ON calls(function_id, status, created_at, id);

CREATE TABLE attempts (
  input_id      TEXT NOT NULL,
  call_id       TEXT NOT NULL,
  attempt       INTEGER NOT NULL,
  container_id  TEXT,
  queued_at     BIGINT NOT NULL,
  started_at    BIGINT,
  ended_at      BIGINT,
  cold_start_ms INTEGER NOT NULL DEFAULT 0,
  status        TEXT NOT NULL,
  PRIMARY KEY (input_id, attempt)
);
CREATE INDEX attempts_call ON attempts(call_id);
CREATE INDEX attempts_queued ON attempts(queued_at);

CREATE INDEX logs_input ON logs(input_id, seq) WHERE input_id IS NOT NULL;
CREATE INDEX logs_container ON logs(container_id, seq) WHERE container_id IS NOT NULL;
