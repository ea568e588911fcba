-- Class instances (one row per parameter set and option variant) are kept while used: a row
-- unused for the result retention, with no pending call or running map on it, is dropped
-- (Retention), and a later bind with the same parameters writes it again (its id is derived
-- from them). used_at: the last time the instance was live in a server's memory.
-- The table is rebuilt rather than altered: SQLite has no ADD COLUMN IF NOT EXISTS, and this
-- may run again on a database whose newer migrations were undone by hand.
CREATE TABLE class_instances_new (
  id          TEXT PRIMARY KEY,
  function_id TEXT NOT NULL,
  params      BLOB NOT NULL,
  options     TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  used_at     INTEGER NOT NULL
);
INSERT INTO class_instances_new (id, function_id, params, options, created_at, used_at)
  SELECT id, function_id, params, options, created_at, created_at FROM class_instances;
DROP TABLE class_instances;
ALTER TABLE class_instances_new RENAME TO class_instances;
CREATE INDEX class_instances_function ON class_instances(function_id);
CREATE INDEX class_instances_used ON class_instances(used_at);
