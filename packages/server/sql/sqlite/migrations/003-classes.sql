-- Classes (@app.cls): a call names the method it runs, and each parameter set / option
-- variant of a class is a pool of its own, kept across restarts so its calls recover.

ALTER TABLE calls ADD COLUMN method TEXT;

CREATE TABLE class_instances (
  id          TEXT PRIMARY KEY,   -- the instance's function id: <class function id>.<hash>
  function_id TEXT NOT NULL,      -- the class's function
  params      BLOB NOT NULL,      -- CBOR of the full parameter object (defaults filled in)
  options     TEXT NOT NULL,      -- JSON of the option overrides
  created_at  INTEGER NOT NULL
);
CREATE INDEX class_instances_function ON class_instances(function_id);
