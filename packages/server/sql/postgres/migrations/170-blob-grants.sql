-- A scoped API token's blob grants (auth/stored-grants.ts): the blobs it was sent or uploaded,
-- which are all it may read or pass on. Kept here so that they outlive a restart; at most
-- MAX_BLOB_GRANTS (4096) per token, the newest by seq (epoch µs), trimmed as grants are added.
CREATE TABLE blob_grants (
  token_id TEXT NOT NULL,
  blob_id  TEXT NOT NULL,
  seq      BIGINT NOT NULL,
  PRIMARY KEY (token_id, blob_id)
);
CREATE INDEX blob_grants_age ON blob_grants(token_id, seq);
