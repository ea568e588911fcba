-- Statements of the Postgres object store (src/store/postgres/postgres-objects.ts); the same
-- operations as sql/sqlite/objects.sql. Named parameters (@x) are sent as $n; arrays as text[].

-- name: insertObject
INSERT INTO objects (id, kind, environment, name, owner_app, owner_session, created_at)
VALUES (@id, @kind, @environment, @name, @ownerApp, @ownerSession, @createdAt) ON CONFLICT DO NOTHING;

-- name: getObject
SELECT id, kind, environment, name, owner_app AS "ownerApp", owner_session AS "ownerSession", created_at AS "createdAt"
FROM objects WHERE id = @id;

-- name: countObjects
SELECT count(*) AS n FROM objects WHERE environment = @environment;

-- name: findObject
SELECT id, kind, environment, name, owner_app AS "ownerApp", owner_session AS "ownerSession", created_at AS "createdAt"
FROM objects WHERE environment = @environment AND name = @name;

-- name: listObjects
SELECT id, kind, environment, name, owner_app AS "ownerApp", owner_session AS "ownerSession", created_at AS "createdAt"
FROM objects WHERE environment = @environment AND kind = @kind AND name IS NOT NULL ORDER BY name COLLATE "C";

-- name: objectsOfApp
SELECT id, kind, environment, name, owner_app AS "ownerApp", owner_session AS "ownerSession", created_at AS "createdAt"
FROM objects WHERE owner_app = @owner;

-- name: objectsOfSession
SELECT id, kind, environment, name, owner_app AS "ownerApp", owner_session AS "ownerSession", created_at AS "createdAt"
FROM objects WHERE owner_session = @owner AND owner_app IS NULL;

-- name: ephemeralObjects
SELECT id, kind, environment, name, owner_app AS "ownerApp", owner_session AS "ownerSession", created_at AS "createdAt"
FROM objects WHERE name IS NULL;

-- name: deleteObject
DELETE FROM objects WHERE id = @id;

-- name: deleteDictEntries
DELETE FROM dict_entries WHERE dict_id = @id;

-- name: deleteQueueItems
DELETE FROM queue_items WHERE pid IN (SELECT pid FROM queue_partitions WHERE queue_id = @id);

-- name: deleteQueuePartitions
DELETE FROM queue_partitions WHERE queue_id = @id;

-- name: deleteVolumeFiles
DELETE FROM volume_files WHERE volume_id = @id;

-- name: deleteVolumeVersions
DELETE FROM volume_versions WHERE volume_id = @id;

-- name: dictUpsert
INSERT INTO dict_entries (dict_id, key, value, value_blob, touched_at) VALUES (@dictId, @key, @value, @valueBlob, @now)
ON CONFLICT (dict_id, key) DO UPDATE SET value = excluded.value, value_blob = excluded.value_blob, touched_at = excluded.touched_at;

-- name: dictInsertIfMissing
INSERT INTO dict_entries (dict_id, key, value, value_blob, touched_at) VALUES (@dictId, @key, @value, @valueBlob, @now)
ON CONFLICT (dict_id, key) DO NOTHING;

-- name: dictGet
SELECT value, value_blob AS "valueBlob", touched_at AS "touchedAt" FROM dict_entries WHERE dict_id = @dictId AND key = @key;

-- name: dictTouch
UPDATE dict_entries SET touched_at = @now WHERE dict_id = @dictId AND key = @key AND touched_at < @now;

-- name: dictDelete
DELETE FROM dict_entries WHERE dict_id = @dictId AND key = @key RETURNING value, value_blob AS "valueBlob";

-- name: dictLen
SELECT count(*) AS n FROM dict_entries WHERE dict_id = @dictId;

-- Keys compare bytewise (COLLATE "C"), as SQLite's do, whatever the database's collation.
-- name: dictScanFirst
SELECT key, value, value_blob AS "valueBlob" FROM dict_entries WHERE dict_id = @dictId
ORDER BY key COLLATE "C" LIMIT @limit;

-- name: dictScanAfter
SELECT key, value, value_blob AS "valueBlob" FROM dict_entries WHERE dict_id = @dictId AND key COLLATE "C" > @after
ORDER BY key COLLATE "C" LIMIT @limit;

-- name: dictClear
DELETE FROM dict_entries WHERE dict_id = @dictId;

-- name: dictExpire
DELETE FROM dict_entries WHERE touched_at < @before;

-- name: queuePartitionLocked
SELECT pid, size, next_seq AS "nextSeq" FROM queue_partitions WHERE queue_id = @queueId AND partition = @partition FOR UPDATE;

-- A new partition is made under a per-queue lock (pg_advisory_xact_lock), so two puts to new
-- partitions cannot both pass maxPartitions.
-- name: queueLockQueue
SELECT pg_advisory_xact_lock(74200, hashtext(@queueId));

-- name: queuePartitionCount
SELECT count(*) AS n FROM queue_partitions WHERE queue_id = @queueId;

-- name: queueInsertPartition
INSERT INTO queue_partitions (queue_id, partition, size, next_seq, touched_at) VALUES (@queueId, @partition, 0, 1, @now)
RETURNING pid, size, next_seq AS "nextSeq";

-- Values come as hex text (one array parameter), so a put of many items is one statement.
-- name: queueInsert
INSERT INTO queue_items (pid, seq, value)
SELECT @pid::bigint, @firstSeq::bigint + i - 1, decode(v, 'hex') FROM unnest(@values::text[]) WITH ORDINALITY AS t(v, i);

-- name: queueGrowPartition
UPDATE queue_partitions SET size = size + @n, next_seq = next_seq + @n, touched_at = @now WHERE pid = @pid;

-- One statement: SKIP LOCKED lets concurrent takers lease disjoint items, oldest first.
-- name: queueTake
UPDATE queue_items SET leased = TRUE WHERE (pid, seq) IN (
  SELECT pid, seq FROM queue_items
  WHERE pid = (SELECT pid FROM queue_partitions WHERE queue_id = @queueId AND partition = @partition) AND NOT leased
  ORDER BY seq LIMIT @n FOR UPDATE SKIP LOCKED
) RETURNING seq, value;

-- name: queueRelease
UPDATE queue_items SET leased = FALSE
WHERE pid = (SELECT pid FROM queue_partitions WHERE queue_id = @queueId AND partition = @partition)
  AND seq = ANY(@seqs::bigint[]);

-- name: queueAck
WITH gone AS (
  DELETE FROM queue_items
  WHERE pid = (SELECT pid FROM queue_partitions WHERE queue_id = @queueId AND partition = @partition)
    AND leased AND seq = ANY(@seqs::bigint[])
  RETURNING pid, n
)
UPDATE queue_partitions p SET size = p.size - g.n
FROM (SELECT pid, sum(n) AS n FROM gone GROUP BY pid) g WHERE p.pid = g.pid;

-- Counts are sum(n): a row may hold a run of n items (migration 155); this store writes n = 1.
-- name: queueLenPartition
SELECT coalesce(sum(n), 0)::int AS n FROM queue_items
WHERE pid = (SELECT pid FROM queue_partitions WHERE queue_id = @queueId AND partition = @partition) AND NOT leased;

-- name: queueLenAll
SELECT coalesce(sum(n), 0)::int AS n FROM queue_items WHERE pid IN (SELECT pid FROM queue_partitions WHERE queue_id = @queueId) AND NOT leased;

-- name: queueClearPartition
DELETE FROM queue_items
WHERE pid = (SELECT pid FROM queue_partitions WHERE queue_id = @queueId AND partition = @partition) AND NOT leased;

-- name: queueClearAll
DELETE FROM queue_items WHERE pid IN (SELECT pid FROM queue_partitions WHERE queue_id = @queueId) AND NOT leased;

-- name: queueRecount
UPDATE queue_partitions SET size = (SELECT coalesce(sum(n), 0) FROM queue_items i WHERE i.pid = queue_partitions.pid)
WHERE queue_id = @queueId;

-- name: queueResetLeases
UPDATE queue_items SET leased = FALSE WHERE leased;

-- At most 1000 partitions a sweep (the next sweep takes the rest). A put in flight holds its
-- partition's row: the delete waits for it, then sees the new touched_at and keeps it.
-- name: queueExpire
WITH parts AS (
  DELETE FROM queue_partitions WHERE pid IN (SELECT pid FROM queue_partitions WHERE touched_at < @before LIMIT 1000)
  AND touched_at < @before
  RETURNING pid
), items AS (
  DELETE FROM queue_items WHERE pid IN (SELECT pid FROM parts)
)
SELECT count(*) AS n FROM parts;

-- Commits to one volume run one at a time (a per-volume lock); a prune takes the lock of
-- every volume (74202 exclusive against 74202 shared), so no commit names content while a
-- prune decides which content is no longer named.
-- name: volumeLockAll
SELECT pg_advisory_xact_lock(74202, 0);

-- name: volumeLockShared
SELECT pg_advisory_xact_lock_shared(74202, 0);

-- name: volumeLock
SELECT pg_advisory_xact_lock(74201, hashtext(@volumeId));

-- name: volumeLatest
SELECT max(version) AS version FROM volume_versions WHERE volume_id = @volumeId;

-- name: volumeFiles
SELECT path, hash, size FROM volume_files WHERE volume_id = @volumeId AND version = @version ORDER BY path COLLATE "C";

-- name: volumeInsertVersion
INSERT INTO volume_versions (volume_id, version, created_at) VALUES (@volumeId, @version, @now);

-- name: volumeInsertFiles
INSERT INTO volume_files (volume_id, version, path, hash, size)
SELECT @volumeId::text, @version::int, p, h, s::bigint FROM unnest(@paths::text[], @hashes::text[], @sizes::text[]) AS t(p, h, s);

-- name: volumeDropVersions
WITH dropped AS (
  DELETE FROM volume_versions WHERE volume_id = @volumeId AND version < @latest AND NOT (version = ANY(@keep::int[]))
  RETURNING version
)
DELETE FROM volume_files WHERE volume_id = @volumeId AND version IN (SELECT version FROM dropped) RETURNING hash;

-- name: volumeHashesUnused
SELECT h AS hash FROM unnest(@hashes::text[]) AS t(h) WHERE NOT EXISTS (SELECT 1 FROM volume_files WHERE hash = h);

-- name: volumeHashUsed
SELECT 1 AS used FROM volume_files WHERE hash = @hash LIMIT 1;
