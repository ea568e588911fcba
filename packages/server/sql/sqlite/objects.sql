-- Statements of the object store (src/store/sqlite/sqlite-objects.ts), one per operation.

-- name: insertObject
INSERT OR IGNORE INTO objects (id, kind, environment, name, owner_app, owner_session, created_at)
VALUES (@id, @kind, @environment, @name, @ownerApp, @ownerSession, @createdAt);

-- name: getObject
SELECT id, kind, environment, name, owner_app AS ownerApp, owner_session AS ownerSession, created_at AS createdAt
FROM objects WHERE id = @id;

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
DELETE FROM queue_items WHERE queue_id = @id;

-- name: deleteQueuePartitions
DELETE FROM queue_partitions WHERE queue_id = @id;

-- name: dictUpsert
INSERT INTO dict_entries (dict_id, key, value, value_blob, touched_at) VALUES (@dictId, @key, @value, @valueBlob, @now)
ON CONFLICT (dict_id, key) DO UPDATE SET value = excluded.value, value_blob = excluded.value_blob, touched_at = excluded.touched_at;

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
SELECT size FROM queue_partitions WHERE queue_id = @queueId AND partition = @partition;

-- name: queuePartitionCount
SELECT count(*) AS n FROM queue_partitions WHERE queue_id = @queueId;

-- name: queueUpsertPartition
INSERT INTO queue_partitions (queue_id, partition, size, touched_at) VALUES (@queueId, @partition, @n, @now)
ON CONFLICT (queue_id, partition) DO UPDATE SET size = size + excluded.size, touched_at = excluded.touched_at;

-- name: queueInsert
INSERT INTO queue_items (queue_id, partition, value) VALUES (@queueId, @partition, @value);

-- name: queueTake
UPDATE queue_items SET leased = 1 WHERE id IN (
  SELECT id FROM queue_items WHERE queue_id = @queueId AND partition = @partition AND leased = 0 ORDER BY id LIMIT @n
) RETURNING id, value;

-- name: queueRelease
UPDATE queue_items SET leased = 0 WHERE id = @id;

-- name: queueAck
DELETE FROM queue_items WHERE id = @id AND leased = 1;

-- name: queueShrink
UPDATE queue_partitions SET size = size - @n WHERE queue_id = @queueId AND partition = @partition;

-- name: queueLenPartition
SELECT count(*) AS n FROM queue_items WHERE queue_id = @queueId AND partition = @partition AND leased = 0;

-- name: queueLenAll
SELECT count(*) AS n FROM queue_items WHERE queue_id = @queueId AND leased = 0;

-- name: queueClearPartition
DELETE FROM queue_items WHERE queue_id = @queueId AND partition = @partition AND leased = 0;

-- name: queueClearAll
DELETE FROM queue_items WHERE queue_id = @queueId AND leased = 0;

-- name: queueRecount
UPDATE queue_partitions SET size = (
  SELECT count(*) FROM queue_items i WHERE i.queue_id = queue_partitions.queue_id AND i.partition = queue_partitions.partition
) WHERE queue_id = @queueId;

-- name: queueResetLeases
UPDATE queue_items SET leased = 0 WHERE leased = 1;

-- name: queueExpiredPartitions
SELECT queue_id AS queueId, partition FROM queue_partitions WHERE touched_at < @before LIMIT 1000;

-- name: queueDropPartitionItems
DELETE FROM queue_items WHERE queue_id = @queueId AND partition = @partition;

-- name: queueDropPartition
DELETE FROM queue_partitions WHERE queue_id = @queueId AND partition = @partition;
