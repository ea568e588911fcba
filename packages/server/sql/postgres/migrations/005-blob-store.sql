-- Blobs live in the BlobStore, not the database (mirrors sql/sqlite/migrations/005-blob-store.sql;
-- a Postgres store never held blobs, so the old table just goes).

DROP TABLE blobs;
ALTER TABLE inputs ADD COLUMN blob_id TEXT;
ALTER TABLE calls ADD COLUMN blob_id TEXT;
CREATE INDEX inputs_blob ON inputs(blob_id) WHERE blob_id IS NOT NULL;
CREATE INDEX calls_blob ON calls(blob_id) WHERE blob_id IS NOT NULL;
CREATE INDEX functions_bundle ON functions(bundle_blob_id);
CREATE INDEX deployments_bundle ON deployments(bundle_blob_id);
