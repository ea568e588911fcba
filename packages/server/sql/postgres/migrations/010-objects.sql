-- Objects (api.md §7): Dicts, Queues and Volumes, named per environment or ephemeral
-- (mirrors sql/sqlite/migrations/010-objects.sql). One name space per environment across
-- kinds, so a Dict's name used as a Queue is an error.

CREATE TABLE objects (
  id            TEXT PRIMARY KEY,     -- "di-…", "qu-…", "vo-…"
  kind          TEXT NOT NULL,        -- dict | queue | volume
  environment   TEXT NOT NULL,
  name          TEXT,                 -- NULL for an ephemeral object
  owner_app     TEXT,                 -- ephemeral: deleted when this app stops
  owner_session TEXT,                 -- ephemeral, made outside a container: deleted when the session ends
  created_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX objects_name ON objects(environment, name) WHERE name IS NOT NULL;
CREATE INDEX objects_owner_app ON objects(owner_app) WHERE owner_app IS NOT NULL;
CREATE INDEX objects_owner_session ON objects(owner_session) WHERE owner_session IS NOT NULL;

-- A Dict entry. key is the typed key as text ("s:…", "n:…", "b:…"); value is CBOR inline, or
-- value_blob names a blob for a large one. touched_at drives the idle TTL.
CREATE TABLE dict_entries (
  dict_id    TEXT NOT NULL,
  key        TEXT COLLATE "C" NOT NULL,  -- bytewise order, as in SQLite
  value      BYTEA,
  value_blob TEXT,
  touched_at BIGINT NOT NULL,
  PRIMARY KEY (dict_id, key)
);
CREATE INDEX dict_entries_touched ON dict_entries(touched_at);

-- A queue partition: pid keys its items; size counts its items (leased ones too) for the
-- per-partition limit; next_seq numbers the next item; touched_at (last put) drives the TTL.
-- A put locks its partition's row (FOR UPDATE), so puts to one partition run one at a time.
CREATE TABLE queue_partitions (
  pid        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  queue_id   TEXT NOT NULL,
  partition  TEXT NOT NULL,
  size       BIGINT NOT NULL,
  next_seq   BIGINT NOT NULL,
  touched_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX queue_partitions_name ON queue_partitions(queue_id, partition);
CREATE INDEX queue_partitions_touched ON queue_partitions(touched_at);

-- A queue item; seq orders the items of a partition (FIFO). leased: handed to a getter that
-- has not acknowledged it yet (it goes back, in place, if that getter's connection is lost).
CREATE TABLE queue_items (
  pid    BIGINT NOT NULL,
  seq    BIGINT NOT NULL,
  value  BYTEA NOT NULL,
  leased BOOLEAN NOT NULL DEFAULT FALSE,
  PRIMARY KEY (pid, seq)
);
