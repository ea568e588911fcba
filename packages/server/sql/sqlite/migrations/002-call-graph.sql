-- Inputs that belong to a call graph: spawned calls (roots) and calls made from inside a
-- running input (children). Plain top-level .remote/.map calls are not recorded here.

CREATE TABLE graph_inputs (
  input_id        TEXT PRIMARY KEY,
  call_id         TEXT NOT NULL,
  parent_input_id TEXT,
  function_name   TEXT NOT NULL,
  task_id         TEXT,             -- the container that ran (or runs) it
  status          TEXT NOT NULL,    -- pending | success | failure | init_failure | terminated | timeout
  created_at      INTEGER NOT NULL
);
CREATE INDEX graph_inputs_call ON graph_inputs(call_id);
CREATE INDEX graph_inputs_parent ON graph_inputs(parent_input_id);
CREATE INDEX graph_inputs_created ON graph_inputs(created_at);
