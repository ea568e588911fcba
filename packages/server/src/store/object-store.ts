/**
 * Durable state of Dicts, Queues and Volumes (api.md §7; architecture.md decision 10). The
 * object services (server/src/objects/) use only this interface. Every method is async; a
 * write resolves once it is durable, so a service may acknowledge right after it. Methods
 * that must be atomic against concurrent callers (a `skipIfExists` put, taking queue items,
 * a put under a partition limit) are single methods here, so each implementation makes them
 * atomic its own way (SQLite: one synchronous step; Postgres: one statement or transaction).
 */
export interface ObjectStore {
  // names and lifetimes
  /** Inserts the object unless its name is taken; returns the row that holds the name. */
  createObject(row: ObjectRow): Promise<ObjectRow>;
  getObject(id: string): Promise<ObjectRow | undefined>;
  /** Objects of an environment, named and ephemeral (held to maxObjectsPerEnvironment). */
  countObjects(environment: string): Promise<number>;
  findObject(environment: string, name: string): Promise<ObjectRow | undefined>;
  /** Named objects of one kind in an environment, by name. */
  listObjects(environment: string, kind: ObjectKind): Promise<ObjectRow[]>;
  /** Ephemeral objects owned by an app or by a client session. */
  ownedObjects(owner: { app: string } | { session: string }): Promise<ObjectRow[]>;
  /** Every ephemeral object (server start: owners that went away meanwhile). */
  ephemeralObjects(): Promise<ObjectRow[]>;
  /** Deletes the object and everything in it; false when it was not there. */
  deleteObject(id: string): Promise<boolean>;

  // dicts
  /**
   * Writes one entry; with skipIfExists an existing key is kept and false returned. An entry
   * overwritten within `touchAfter` of its idle time may keep that time (as a read does), so
   * that an overwrite rewrites the entry alone and not the idle-time index too.
   */
  dictPut(
    dictId: string,
    key: string,
    value: StoredValue,
    now: number,
    skipIfExists: boolean,
    touchAfter?: number,
  ): Promise<boolean>;
  /** Writes several entries in one transaction (idle times as dictPut's). */
  dictUpdate(dictId: string, entries: [string, StoredValue][], now: number, touchAfter?: number): Promise<void>;
  /** Reads an entry; refreshes its idle time when older than `touchAfter`. */
  dictGet(dictId: string, key: string, now: number, touchAfter: number): Promise<StoredValue | undefined>;
  /** Removes an entry and returns what it held. */
  dictDelete(dictId: string, key: string): Promise<StoredValue | undefined>;
  dictLen(dictId: string): Promise<number>;
  /** Entries in key order after `after` (exclusive), at most `limit`. */
  dictScan(dictId: string, after: string | undefined, limit: number): Promise<DictEntryRow[]>;
  dictClear(dictId: string): Promise<void>;
  /** Drops entries untouched since `before`; returns how many. */
  dictExpire(before: number): Promise<number>;

  // queues
  /** Appends items to a partition, unless that would pass a limit (then nothing is written). */
  queuePut(
    queueId: string,
    partition: string,
    items: QueueItems,
    now: number,
    limits: { maxItems: number; maxPartitions: number },
  ): Promise<QueuePutResult>;
  /** Takes up to n of the oldest items of a partition, leased to one getter, in order. */
  queueTake(queueId: string, partition: string, n: number): Promise<QueueRun[]>;
  /** Gives leased items back, in their places (the getter's connection was lost). */
  queueRelease(queueId: string, partition: string, ids: number[]): Promise<void>;
  /** The getter received them: leased items are removed. */
  queueAck(queueId: string, partition: string, ids: number[]): Promise<void>;
  /** Items waiting in a partition, or in all of them. */
  queueLen(queueId: string, partition: string | undefined): Promise<number>;
  /** Drops the waiting items of a partition, or of all of them. */
  queueClear(queueId: string, partition: string | undefined): Promise<void>;
  /** Server start: no getter holds a lease any more. */
  queueResetLeases(): Promise<void>;
  /** Drops partitions with no put since `before`; returns how many. */
  queueExpire(before: number): Promise<number>;

  // volumes
  /** The newest version (0, with no files, before the first commit) and its files. */
  volumeLatest(volumeId: string): Promise<VolumeVersion>;
  volumeVersion(volumeId: string, version: number): Promise<VolumeFileRow[]>;
  /**
   * Publishes a new version: the newest one with `changes` applied (a null hash removes the
   * path), so commits to different files all land and, to one file, the last wins. Atomic
   * against other commits to the same volume.
   */
  volumeCommit(
    volumeId: string,
    changes: { path: string; hash: string | null; size: number }[],
    now: number,
  ): Promise<VolumeVersion>;
  /**
   * Drops versions older than the newest that are not in `keep`; returns the content hashes
   * no version of any volume names any more (their files may be deleted).
   */
  volumePrune(volumeId: string, keep: Set<number>): Promise<string[]>;
  /** Whether any version of any volume names this content. */
  volumeHashUsed(hash: string): Promise<boolean>;
}

export interface VolumeFileRow {
  path: string;
  hash: string;
  size: number;
}

export interface VolumeVersion {
  version: number;
  files: VolumeFileRow[];
}

export type ObjectKind = "dict" | "queue" | "volume";

export interface ObjectRow {
  id: string;
  kind: ObjectKind;
  environment: string;
  /** null for an ephemeral object. */
  name: string | null;
  ownerApp: string | null;
  ownerSession: string | null;
  createdAt: number;
}

/** A value as stored: CBOR inline, or the id of a blob holding it. */
export type StoredValue = { inline: Uint8Array } | { blob: string };

export interface DictEntryRow {
  key: string;
  value: StoredValue;
}

export interface QueueItemRow {
  /** Its place in its partition. */
  id: number;
  value: Uint8Array;
}

/**
 * The items of one put, in order, back to back in one buffer (as they arrived: no copy each):
 * item i is `bytes` from where item i - 1 ends (the first from `start`) to `ends[i]`.
 */
export interface QueueItems {
  bytes: Uint8Array;
  start: number;
  ends: number[];
}

/**
 * Taken items with consecutive places from `seq` (their ids seq … seq + n - 1), in the stored
 * form of store/queue-runs.ts: n = 1 is the item itself; more, their u32 lengths then their bytes.
 */
export interface QueueRun {
  seq: number;
  n: number;
  value: Uint8Array;
}

export type QueuePutResult =
  | { ok: true }
  | { ok: false; reason: "full"; size: number }
  | { ok: false; reason: "partitions"; count: number };
