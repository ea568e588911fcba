-- A row naming each running map, so that a restarted server can take it back (map.resume):
-- the map's inputs are not here (its caller holds them and sends them again), only what the
-- server needs to know the map and its function. expires_at is NULL while a server runs it;
-- a map left behind (its server stopped, or its caller went) is dropped after it.

CREATE TABLE map_calls (
  id TEXT PRIMARY KEY,
  function_id TEXT NOT NULL,
  method TEXT,
  parent_input_id TEXT,
  idempotency_key TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER
);
CREATE INDEX map_calls_expiry ON map_calls(expires_at) WHERE expires_at IS NOT NULL;
