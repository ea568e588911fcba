-- Statements of the object store (src/store/sqlite/sqlite-objects.ts), one per operation.

-- name: insertObject
INSERT OR IGNORE INTO objects (id, kind, environment, name, owner_app, owner_session, created_at)
VALUES (@id, @kind, @environment, @name, @ownerApp, @ownerSession, @createdAt);

-- name: getObject
SELECT id, kind, environment, name, owner_app AS ownerApp, owner_session AS ownerSession, created_at AS createdAt
FROM objects WHERE id = @id;

-- name: countObjects
SELECT count(*) AS n FROM objects WHERE environment = @environment;

-- name: findObject
SELECT id, kind, environment, name, owner_app AS ownerApp, owner_session AS ownerSession, created_at AS createdAt
FROM objects WHERE environment = @environment AND name = @name;

-- name: listObjects
SELECT id, kind, environment, name, owner_app AS ownerApp, owner_session AS ownerSession, created_at AS createdAt
FROM objects WHERE environment = @environment AND kind = @kind AND name IS NOT NULL ORDER BY name;

-- name: objectsOfApp
SELECT id, kind, environment, name, owner_app AS ownerApp, owner_session AS ownerSession, created_at AS createdAt
FROM objects WHERE owner_app = @owner;

-- name: objectsOfSession
SELECT id, kind, environment, name, owner_app AS ownerApp, owner_session AS ownerSession, created_at AS createdAt
FROM objects WHERE owner_session = @owner AND owner_app IS NULL;

-- name: ephemeralObjects
SELECT id, kind, environment, name, owner_app AS ownerApp, owner_session AS ownerSession, created_at AS createdAt
FROM objects WHERE name IS NULL;

-- name: deleteObject
DELETE FROM objects WHERE id = @id;

-- name: deleteDictEntries
DELETE FROM dict_entries WHERE dict_id = @id;

-- name: deleteQueueItems
DELETE FROM queue_items WHERE pid IN (SELECT pid FROM queue_partitions WHERE queue_id = @id);

-- name: deleteQueuePartitions
DELETE FROM queue_partitions WHERE queue_id = @id;

-- name: dictUpsert
INSERT INTO dict_entries (dict_id, key, value, value_blob, touched_at) VALUES (@dictId, @key, @value, @valueBlob, @now)
ON CONFLICT (dict_id, key) DO UPDATE SET value = excluded.value, value_blob = excluded.value_blob, touched_at = excluded.touched_at;

-- name: dictOverwriteFresh
UPDATE dict_entries SET value = @value, value_blob = @valueBlob
WHERE dict_id = @dictId AND key = @key AND touched_at >= @freshAfter;

-- name: dictInsertIfMissing
INSERT OR IGNORE INTO dict_entries (dict_id, key, value, value_blob, touched_at) VALUES (@dictId, @key, @value, @valueBlob, @now);

-- name: dictGet
SELECT value, value_blob AS valueBlob, touched_at AS touchedAt FROM dict_entries WHERE dict_id = @dictId AND key = @key;

-- name: dictTouch
UPDATE dict_entries SET touched_at = @now WHERE dict_id = @dictId AND key = @key;

-- name: dictDelete
DELETE FROM dict_entries WHERE dict_id = @dictId AND key = @key RETURNING value, value_blob AS valueBlob;

-- name: dictLen
SELECT count(*) AS n FROM dict_entries WHERE dict_id = @dictId;

-- name: dictScanFirst
SELECT key, value, value_blob AS valueBlob FROM dict_entries WHERE dict_id = @dictId ORDER BY key LIMIT @limit;

-- name: dictScanAfter
SELECT key, value, value_blob AS valueBlob FROM dict_entries WHERE dict_id = @dictId AND key > @after ORDER BY key LIMIT @limit;

-- name: dictClear
DELETE FROM dict_entries WHERE dict_id = @dictId;

-- name: dictExpire
DELETE FROM dict_entries WHERE touched_at < @before;

-- name: queuePartition
SELECT pid, size, next_seq AS nextSeq FROM queue_partitions WHERE queue_id = @queueId AND partition = @partition;

-- name: queuePartitionCount
SELECT count(*) AS n FROM queue_partitions WHERE queue_id = @queueId;

-- name: queueInsertPartition
INSERT INTO queue_partitions (queue_id, partition, size, next_seq, touched_at) VALUES (@queueId, @partition, 0, 1, @now);

-- name: queueGrowPartition
UPDATE queue_partitions SET size = size + @n, next_seq = next_seq + @n, touched_at = @now WHERE pid = @pid;

-- A run of n items (migration 155, store/queue-runs.ts).
-- name: queueInsert
INSERT INTO queue_items (pid, seq, n, value) VALUES (?, ?, ?, ?);

-- A take, in one synchronous step: the first runs not leased, read until they hold enough
-- items; then every run not leased from the first to the last whole one, which is exactly
-- those; a run of which only a part is taken is split in two (queueSplitRun, queueInsert).
-- name: queueTakeRuns
SELECT seq, n, value FROM queue_items WHERE pid = @pid AND leased = 0 ORDER BY seq;

-- name: queueLeaseRange
UPDATE queue_items SET leased = 1 WHERE pid = @pid AND seq BETWEEN @lo AND @hi AND leased = 0;

-- The taken first part of a run, leased; what is left is inserted after it.
-- name: queueSplitRun
UPDATE queue_items SET n = @n, value = @value, leased = 1 WHERE pid = @pid AND seq = @seq;

-- name: queueRelease
UPDATE queue_items SET leased = 0 WHERE pid = @pid AND seq IN (SELECT value FROM json_each(@seqs));

-- Release and ack of a lease whose items are consecutive (the usual case): a range holds
-- exactly its items. A lease's ids are its items' seqs: each of its runs starts at one.
-- name: queueReleaseRange
UPDATE queue_items SET leased = 0 WHERE pid = @pid AND seq BETWEEN @lo AND @hi;

-- name: queueAck
DELETE FROM queue_items WHERE pid = @pid AND leased = 1 AND seq IN (SELECT value FROM json_each(@seqs))
RETURNING n;

-- name: queueAckRange
DELETE FROM queue_items WHERE pid = @pid AND leased = 1 AND seq BETWEEN @lo AND @hi RETURNING n;

-- name: queueShrink
UPDATE queue_partitions SET size = size - @n WHERE pid = @pid;

-- name: queueLenPartition
SELECT coalesce(sum(n), 0) AS n FROM queue_items WHERE pid = @pid AND leased = 0;

-- name: queueLenAll
SELECT coalesce(sum(n), 0) AS n FROM queue_items
WHERE pid IN (SELECT pid FROM queue_partitions WHERE queue_id = @queueId) AND leased = 0;

-- name: queueClearPartition
DELETE FROM queue_items WHERE pid = @pid AND leased = 0;

-- name: queueClearAll
DELETE FROM queue_items WHERE pid IN (SELECT pid FROM queue_partitions WHERE queue_id = @queueId) AND leased = 0;

-- name: queueRecount
UPDATE queue_partitions SET size = (SELECT coalesce(sum(n), 0) FROM queue_items i WHERE i.pid = queue_partitions.pid)
WHERE queue_id = @queueId;

-- name: queueResetLeases
UPDATE queue_items SET leased = 0 WHERE leased = 1;

-- name: queueExpiredPartitions
SELECT pid FROM queue_partitions WHERE touched_at < @before LIMIT 1000;

-- name: queueDropPartitionItems
DELETE FROM queue_items WHERE pid = @pid;

-- name: queueDropPartition
DELETE FROM queue_partitions WHERE pid = @pid;

-- name: volumeLatest
SELECT max(version) AS version FROM volume_versions WHERE volume_id = @volumeId;

-- name: volumeFiles
SELECT path, hash, size FROM volume_files WHERE volume_id = @volumeId AND version = @version ORDER BY path;

-- name: volumeInsertVersion
INSERT INTO volume_versions (volume_id, version, created_at) VALUES (@volumeId, @version, @now);

-- name: volumeInsertFile
INSERT INTO volume_files (volume_id, version, path, hash, size) VALUES (@volumeId, @version, @path, @hash, @size);

-- name: volumeVersions
SELECT version FROM volume_versions WHERE volume_id = @volumeId;

-- name: volumeHashesOf
SELECT DISTINCT hash FROM volume_files WHERE volume_id = @volumeId AND version = @version;

-- name: volumeDropVersionFiles
DELETE FROM volume_files WHERE volume_id = @volumeId AND version = @version;

-- name: volumeDropVersion
DELETE FROM volume_versions WHERE volume_id = @volumeId AND version = @version;

-- name: volumeHashUsed
SELECT 1 AS used FROM volume_files WHERE hash = @hash LIMIT 1;

-- name: deleteVolumeFiles
DELETE FROM volume_files WHERE volume_id = @id;

-- name: deleteVolumeVersions
DELETE FROM volume_versions WHERE volume_id = @id;
