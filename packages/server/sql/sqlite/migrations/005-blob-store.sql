-- Blobs move out of the database into the BlobStore (files under the data directory); rows
-- name the blob they refer to, so housekeeping finds unreferenced blobs without decoding
-- payloads. The old blobs table is emptied into the BlobStore and dropped at the first start
-- (SqliteStore.moveLegacyBlobs), which also fills blob_id for rows written before.

ALTER TABLE inputs ADD COLUMN blob_id TEXT;   -- args stored as a blob
ALTER TABLE calls ADD COLUMN blob_id TEXT;    -- the outcome's payload stored as a blob
CREATE INDEX inputs_blob ON inputs(blob_id) WHERE blob_id IS NOT NULL;
CREATE INDEX calls_blob ON calls(blob_id) WHERE blob_id IS NOT NULL;
CREATE INDEX functions_bundle ON functions(bundle_blob_id);
CREATE INDEX deployments_bundle ON deployments(bundle_blob_id);
