-- Skiff control-plane schema, version 1.
-- Payload columns (args, outcome) hold CBOR; JSON columns hold small metadata.

CREATE TABLE tokens (
  id          TEXT PRIMARY KEY,
  secret_hash TEXT NOT NULL,          -- sha256 of the secret, hex; the secret is never stored
  kind        TEXT NOT NULL,          -- admin | api | web
  created_at  INTEGER NOT NULL
);

CREATE TABLE blobs (
  id         TEXT PRIMARY KEY,        -- "bl-" + sha256 of the content
  data       BLOB NOT NULL,
  size       INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE apps (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  environment TEXT NOT NULL,
  mode        TEXT NOT NULL,          -- ephemeral | deployed
  state       TEXT NOT NULL,          -- running | deployed | stopped
  version     INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  stopped_at  INTEGER,
  owner_session TEXT                  -- ephemeral apps: the client session that runs them
);
-- One deployed app per name and environment.
CREATE UNIQUE INDEX apps_deployed_name ON apps(environment, name) WHERE mode = 'deployed';

CREATE TABLE deployments (
  app_id         TEXT NOT NULL,
  version        INTEGER NOT NULL,
  bundle_blob_id TEXT NOT NULL,
  functions      TEXT NOT NULL,       -- JSON array of names
  created_at     INTEGER NOT NULL,
  PRIMARY KEY (app_id, version)
);

CREATE TABLE functions (
  id             TEXT PRIMARY KEY,
  app_id         TEXT NOT NULL,
  name           TEXT NOT NULL,
  version        INTEGER NOT NULL,
  spec           TEXT NOT NULL,       -- JSON FunctionSpec
  bundle_blob_id TEXT NOT NULL,
  active         INTEGER NOT NULL,    -- 0 when dropped by a redeploy
  UNIQUE (app_id, name)
);

CREATE TABLE calls (
  id              TEXT PRIMARY KEY,
  function_id     TEXT NOT NULL,
  kind            TEXT NOT NULL,      -- remote | spawn
  idempotency_key TEXT,
  parent_input_id TEXT,
  state           TEXT NOT NULL,      -- pending | done | cancelled | expired
  outcome         BLOB,               -- CBOR CallOutcome once done
  created_at      INTEGER NOT NULL,
  completed_at    INTEGER,
  expires_at      INTEGER
);
CREATE UNIQUE INDEX calls_idempotency ON calls(idempotency_key);
CREATE INDEX calls_pending ON calls(state) WHERE state = 'pending';
CREATE INDEX calls_expiry ON calls(expires_at) WHERE state = 'done';

CREATE TABLE inputs (
  id       TEXT PRIMARY KEY,
  call_id  TEXT NOT NULL,
  idx      INTEGER NOT NULL,
  args     BLOB NOT NULL,             -- CBOR Payload
  state    TEXT NOT NULL,             -- pending | done
  attempt  INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX inputs_call ON inputs(call_id, idx);

CREATE TABLE secrets (
  environment TEXT NOT NULL,
  name        TEXT NOT NULL,
  vals        TEXT NOT NULL,          -- JSON object of strings
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (environment, name)
);

CREATE TABLE logs (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  app_id       TEXT NOT NULL,
  ts           INTEGER NOT NULL,
  function_name TEXT,
  input_id     TEXT,
  container_id TEXT,
  stream       TEXT NOT NULL,
  text         TEXT NOT NULL
);
CREATE INDEX logs_app ON logs(app_id, seq);
