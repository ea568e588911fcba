-- Volumes (api.md §7, architecture.md decision 10; mirrors sql/sqlite/migrations/011-volumes.sql):
-- a series of committed versions, each a full list of files naming content by hash. The
-- content itself is files in the data directory (volumes/content/), one per hash, shared by
-- every version and volume that has it.

CREATE TABLE volume_versions (
  volume_id  TEXT NOT NULL,
  version    INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (volume_id, version)
);

CREATE TABLE volume_files (
  volume_id TEXT NOT NULL,
  version   INTEGER NOT NULL,
  path      TEXT COLLATE "C" NOT NULL,         -- relative, "/"-separated, no "." or ".." parts
  hash      TEXT NOT NULL,          -- sha256 of the content, hex
  size      BIGINT NOT NULL,
  PRIMARY KEY (volume_id, version, path)
);
CREATE INDEX volume_files_hash ON volume_files(hash);
