-- Skiff control-plane schema, version 1 (mirrors sql/sqlite/migrations/001-init.sql).
-- Payload columns (args, outcome) hold CBOR; JSON columns hold small metadata; times are
-- milliseconds since the epoch.

CREATE TABLE tokens (
  id          TEXT PRIMARY KEY,
  secret_hash TEXT NOT NULL,
  kind        TEXT NOT NULL,
  created_at  BIGINT NOT NULL
);

CREATE TABLE blobs (
  id         TEXT PRIMARY KEY,
  data       BYTEA NOT NULL,
  size       BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);

CREATE TABLE apps (
  id            TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  environment   TEXT NOT NULL,
  mode          TEXT NOT NULL,
  state         TEXT NOT NULL,
  version       INTEGER NOT NULL,
  created_at    BIGINT NOT NULL,
  stopped_at    BIGINT,
  owner_session TEXT
);
CREATE UNIQUE INDEX apps_deployed_name ON apps(environment, name) WHERE mode = 'deployed';

CREATE TABLE deployments (
  app_id         TEXT NOT NULL,
  version        INTEGER NOT NULL,
  bundle_blob_id TEXT NOT NULL,
  functions      TEXT NOT NULL,
  created_at     BIGINT NOT NULL,
  PRIMARY KEY (app_id, version)
);

CREATE TABLE functions (
  id             TEXT PRIMARY KEY,
  app_id         TEXT NOT NULL,
  name           TEXT NOT NULL,
  version        INTEGER NOT NULL,
  spec           TEXT NOT NULL,
  bundle_blob_id TEXT NOT NULL,
  active         INTEGER NOT NULL,
  UNIQUE (app_id, name)
);

CREATE TABLE calls (
  id              TEXT PRIMARY KEY,
  function_id     TEXT NOT NULL,
  kind            TEXT NOT NULL,
  idempotency_key TEXT,
  parent_input_id TEXT,
  state           TEXT NOT NULL,
  outcome         BYTEA,
  created_at      BIGINT NOT NULL,
  completed_at    BIGINT,
  expires_at      BIGINT
);
CREATE UNIQUE INDEX calls_idempotency ON calls(idempotency_key);
CREATE INDEX calls_pending ON calls(state) WHERE state = 'pending';
CREATE INDEX calls_expiry ON calls(expires_at) WHERE state = 'done';

CREATE TABLE inputs (
  id       TEXT PRIMARY KEY,
  call_id  TEXT NOT NULL,
  idx      INTEGER NOT NULL,
  args     BYTEA NOT NULL,
  state    TEXT NOT NULL,
  attempt  INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX inputs_call ON inputs(call_id, idx);

CREATE TABLE secrets (
  environment TEXT NOT NULL,
  name        TEXT NOT NULL,
  vals        TEXT NOT NULL,
  created_at  BIGINT NOT NULL,
  PRIMARY KEY (environment, name)
);

CREATE TABLE logs (
  seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  app_id        TEXT NOT NULL,
  ts            BIGINT NOT NULL,
  function_name TEXT,
  input_id      TEXT,
  container_id  TEXT,
  stream        TEXT NOT NULL,
  text          TEXT NOT NULL
);
CREATE INDEX logs_app ON logs(app_id, seq);
