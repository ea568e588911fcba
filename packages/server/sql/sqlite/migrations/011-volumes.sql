-- Volumes (api.md §7, architecture.md decision 10): a series of committed versions, each a
-- full list of files naming content by hash. The content itself is files in the data
-- directory (volumes/content/), one per hash, shared by every version and volume that has it.

CREATE TABLE volume_versions (
  volume_id  TEXT NOT NULL,
  version    INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (volume_id, version)
) WITHOUT ROWID;

CREATE TABLE volume_files (
  volume_id TEXT NOT NULL,
  version   INTEGER NOT NULL,
  path      TEXT NOT NULL,          -- relative, "/"-separated, no "." or ".." parts
  hash      TEXT NOT NULL,          -- sha256 of the content, hex
  size      INTEGER NOT NULL,
  PRIMARY KEY (volume_id, version, path)
) WITHOUT ROWID;
CREATE INDEX volume_files_hash ON volume_files(hash);
