-- Call graphs (mirrors sql/sqlite/migrations/002-call-graph.sql).

CREATE TABLE graph_inputs (
  input_id        TEXT PRIMARY KEY,
  call_id         TEXT NOT NULL,
  parent_input_id TEXT,
  function_name   TEXT NOT NULL,
  task_id         TEXT,
  status          TEXT NOT NULL,
  created_at      BIGINT NOT NULL
);
CREATE INDEX graph_inputs_call ON graph_inputs(call_id);
CREATE INDEX graph_inputs_parent ON graph_inputs(parent_input_id);
CREATE INDEX graph_inputs_created ON graph_inputs(created_at);
