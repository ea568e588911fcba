-- Classes (mirrors sql/sqlite/migrations/003-classes.sql).

ALTER TABLE calls ADD COLUMN method TEXT;

CREATE TABLE class_instances (
  id          TEXT PRIMARY KEY,
  function_id TEXT NOT NULL,
  params      BYTEA NOT NULL,
  options     TEXT NOT NULL,
  created_at  BIGINT NOT NULL
);
CREATE INDEX class_instances_function ON class_instances(function_id);
