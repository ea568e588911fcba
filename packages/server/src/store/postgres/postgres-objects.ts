import type pg from "pg";
import type {
  DictEntryRow,
  ObjectKind,
  ObjectRow,
  ObjectStore,
  QueueItems,
  QueuePutResult,
  QueueRun,
  StoredValue,
  VolumeFileRow,
  VolumeVersion,
} from "../object-store.js";
import { itemAt } from "../queue-runs.js";
import { toStoredValue, type ValueColumns, valueParams } from "../row-mapping.js";
import { loadNamedStatements } from "../sql-file.js";
import { StoreCommitError, StoreUnavailableError } from "../store.js";
import { PgStatement, type SqlValue } from "./pg-sql.js";

const SQL = new URL("../../../sql/postgres/objects.sql", import.meta.url);

type Params = Record<string, SqlValue>;
type Querier = Pick<pg.Pool, "query"> | pg.PoolClient;

const fromBuffer = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");

/**
 * Dicts, Queues and Volumes on Postgres. Unlike the Store's writes, these do not join the
 * group commit: each method is one autocommitted statement or one transaction of its own on
 * the pool, so it resolves once Postgres has committed it (durable), and its atomicity
 * against other servers on the same database is Postgres's: ON CONFLICT for a
 * `skipIfExists` put, row locks for queue puts, SKIP LOCKED for takes, advisory locks for
 * new partitions and volume commits. Object tables are apart from the Store's, so no write
 * of one has to be ordered after the other's.
 */
export class PostgresObjectStore implements ObjectStore {
  private readonly stmts = new Map<string, PgStatement>();

  constructor(private readonly pool: pg.Pool) {
    for (const [name, sql] of loadNamedStatements(SQL)) this.stmts.set(name, new PgStatement(name, sql));
  }

  private async q<T>(on: Querier, name: string, params: Params): Promise<pg.QueryResult & { rows: T[] }> {
    const s = this.stmts.get(name);
    if (!s) throw new Error(`no SQL statement named ${name}`);
    return (await on.query({ text: s.text, values: s.values(params) })) as pg.QueryResult & { rows: T[] };
  }

  /** A read on the pool. */
  private async rows<T>(name: string, params: Params): Promise<T[]> {
    try {
      return (await this.q<T>(this.pool, name, params)).rows;
    } catch (err) {
      throw new StoreUnavailableError(err);
    }
  }

  /** One autocommitted write; its result once committed. */
  private async write<T>(name: string, params: Params): Promise<pg.QueryResult & { rows: T[] }> {
    try {
      return await this.q<T>(this.pool, name, params);
    } catch (err) {
      throw new StoreCommitError(err);
    }
  }

  /** Runs fn in one transaction on one connection; resolves after COMMIT. */
  private async tx<T>(
    fn: (run: <R>(name: string, params: Params) => Promise<pg.QueryResult & { rows: R[] }>) => Promise<T>,
  ) {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw new StoreCommitError(err);
    }
    try {
      await client.query("BEGIN");
      const r = await fn((name, params) => this.q(client, name, params));
      await client.query("COMMIT");
      return r;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err instanceof StoreCommitError ? err : new StoreCommitError(err);
    } finally {
      client.release();
    }
  }

  // ---- names and lifetimes ---------------------------------------------------------------

  async createObject(row: ObjectRow): Promise<ObjectRow> {
    await this.write("insertObject", { ...row });
    if (row.name === null) return row;
    // The row that holds the name: ours, or the one that won (ON CONFLICT DO NOTHING).
    const holder = (await this.rows<ObjectRow>("findObject", { environment: row.environment, name: row.name }))[0];
    return holder ?? row;
  }
  async countObjects(environment: string): Promise<number> {
    return (await this.rows<{ n: number }>("countObjects", { environment }))[0]!.n;
  }
  async getObject(id: string): Promise<ObjectRow | undefined> {
    return (await this.rows<ObjectRow>("getObject", { id }))[0];
  }
  async findObject(environment: string, name: string): Promise<ObjectRow | undefined> {
    return (await this.rows<ObjectRow>("findObject", { environment, name }))[0];
  }
  listObjects(environment: string, kind: ObjectKind): Promise<ObjectRow[]> {
    return this.rows<ObjectRow>("listObjects", { environment, kind });
  }
  ownedObjects(owner: { app: string } | { session: string }): Promise<ObjectRow[]> {
    return "app" in owner
      ? this.rows<ObjectRow>("objectsOfApp", { owner: owner.app })
      : this.rows<ObjectRow>("objectsOfSession", { owner: owner.session });
  }
  ephemeralObjects(): Promise<ObjectRow[]> {
    return this.rows<ObjectRow>("ephemeralObjects", {});
  }
  deleteObject(id: string): Promise<boolean> {
    return this.tx(async (run) => {
      const gone = ((await run("deleteObject", { id })).rowCount ?? 0) > 0;
      await run("deleteDictEntries", { id });
      await run("deleteQueueItems", { id });
      await run("deleteQueuePartitions", { id });
      await run("deleteVolumeFiles", { id });
      await run("deleteVolumeVersions", { id });
      return gone;
    });
  }

  // ---- dicts -----------------------------------------------------------------------------

  async dictPut(dictId: string, key: string, value: StoredValue, now: number, skipIfExists: boolean): Promise<boolean> {
    const r = await this.write(skipIfExists ? "dictInsertIfMissing" : "dictUpsert", {
      dictId,
      key,
      now,
      ...valueParams(value),
    });
    return (r.rowCount ?? 0) > 0;
  }
  dictUpdate(dictId: string, entries: [string, StoredValue][], now: number): Promise<void> {
    return this.tx(async (run) => {
      for (const [key, value] of entries) await run("dictUpsert", { dictId, key, now, ...valueParams(value) });
    });
  }
  async dictGet(dictId: string, key: string, now: number, touchAfter: number): Promise<StoredValue | undefined> {
    const r = (await this.rows<ValueColumns & { touchedAt: number }>("dictGet", { dictId, key }))[0];
    if (!r) return undefined;
    // A read keeps an entry alive, but costs a write only once per `touchAfter`.
    if (now - r.touchedAt > touchAfter) await this.write("dictTouch", { dictId, key, now });
    return toStoredValue(r);
  }
  async dictDelete(dictId: string, key: string): Promise<StoredValue | undefined> {
    const r = (await this.write<ValueColumns>("dictDelete", { dictId, key })).rows[0];
    return r ? toStoredValue(r) : undefined;
  }
  async dictLen(dictId: string): Promise<number> {
    return (await this.rows<{ n: number }>("dictLen", { dictId }))[0]!.n;
  }
  async dictScan(dictId: string, after: string | undefined, limit: number): Promise<DictEntryRow[]> {
    const rows =
      after === undefined
        ? await this.rows<ValueColumns & { key: string }>("dictScanFirst", { dictId, limit })
        : await this.rows<ValueColumns & { key: string }>("dictScanAfter", { dictId, after, limit });
    return rows.map((r) => ({ key: r.key, value: toStoredValue(r) }));
  }
  async dictClear(dictId: string): Promise<void> {
    await this.write("dictClear", { dictId });
  }
  async dictExpire(before: number): Promise<number> {
    return (await this.write("dictExpire", { before })).rowCount ?? 0;
  }

  // ---- queues ----------------------------------------------------------------------------

  queuePut(
    queueId: string,
    partition: string,
    items: QueueItems,
    now: number,
    limits: { maxItems: number; maxPartitions: number },
  ): Promise<QueuePutResult> {
    type Part = { pid: number; size: number; nextSeq: number };
    const count = items.ends.length;
    return this.tx(async (run): Promise<QueuePutResult> => {
      // The partition's row stays locked to the commit: puts to it run one at a time, so the
      // limit check and the insert see the same size.
      let part = (await run<Part>("queuePartitionLocked", { queueId, partition })).rows[0];
      if (!part) {
        await run("queueLockQueue", { queueId });
        part = (await run<Part>("queuePartitionLocked", { queueId, partition })).rows[0];
        if (!part) {
          const count = (await run<{ n: number }>("queuePartitionCount", { queueId })).rows[0]!.n;
          if (count >= limits.maxPartitions) return { ok: false, reason: "partitions", count };
        }
      }
      const size = part?.size ?? 0;
      if (size + count > limits.maxItems) return { ok: false, reason: "full", size };
      part ??= (await run<Part>("queueInsertPartition", { queueId, partition, now })).rows[0]!;
      const values = Array.from({ length: count }, (_, i) => hex(itemAt(items, i)));
      await run("queueInsert", { pid: part.pid, firstSeq: part.nextSeq, values });
      await run("queueGrowPartition", { pid: part.pid, n: count, now });
      return { ok: true };
    });
  }
  async queueTake(queueId: string, partition: string, n: number): Promise<QueueRun[]> {
    const rows = (await this.write<{ seq: number; value: Buffer }>("queueTake", { queueId, partition, n })).rows;
    // RETURNING gives no order: FIFO is by seq. A row per item: each a run of one.
    rows.sort((a, b) => a.seq - b.seq);
    return rows.map((r) => ({ seq: r.seq, n: 1, value: fromBuffer(r.value) }));
  }
  async queueRelease(queueId: string, partition: string, ids: number[]): Promise<void> {
    await this.write("queueRelease", { queueId, partition, seqs: ids.map(String) });
  }
  async queueAck(queueId: string, partition: string, ids: number[]): Promise<void> {
    await this.write("queueAck", { queueId, partition, seqs: ids.map(String) });
  }
  async queueLen(queueId: string, partition: string | undefined): Promise<number> {
    const r =
      partition === undefined
        ? await this.rows<{ n: number }>("queueLenAll", { queueId })
        : await this.rows<{ n: number }>("queueLenPartition", { queueId, partition });
    return r[0]!.n;
  }
  queueClear(queueId: string, partition: string | undefined): Promise<void> {
    return this.tx(async (run) => {
      if (partition === undefined) await run("queueClearAll", { queueId });
      else await run("queueClearPartition", { queueId, partition });
      await run("queueRecount", { queueId });
    });
  }
  async queueResetLeases(): Promise<void> {
    await this.write("queueResetLeases", {});
  }
  async queueExpire(before: number): Promise<number> {
    return (await this.write<{ n: number }>("queueExpire", { before })).rows[0]!.n;
  }

  // ---- volumes ---------------------------------------------------------------------------

  async volumeLatest(volumeId: string): Promise<VolumeVersion> {
    const version = (await this.rows<{ version: number | null }>("volumeLatest", { volumeId }))[0]?.version ?? 0;
    return { version, files: await this.volumeVersion(volumeId, version) };
  }
  async volumeVersion(volumeId: string, version: number): Promise<VolumeFileRow[]> {
    return version === 0 ? [] : this.rows<VolumeFileRow>("volumeFiles", { volumeId, version });
  }
  volumeCommit(
    volumeId: string,
    changes: { path: string; hash: string | null; size: number }[],
    now: number,
  ): Promise<VolumeVersion> {
    return this.tx(async (run) => {
      // Read the newest, apply, write the next, under the volume's lock: no commit is lost.
      await run("volumeLockShared", {});
      await run("volumeLock", { volumeId });
      const latest = (await run<{ version: number | null }>("volumeLatest", { volumeId })).rows[0]?.version ?? 0;
      const files = new Map<string, VolumeFileRow>();
      if (latest > 0)
        for (const f of (await run<VolumeFileRow>("volumeFiles", { volumeId, version: latest })).rows)
          files.set(f.path, f);
      for (const c of changes) {
        if (c.hash === null) files.delete(c.path);
        else files.set(c.path, { path: c.path, hash: c.hash, size: c.size });
      }
      const version = latest + 1;
      const list = [...files.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
      await run("volumeInsertVersion", { volumeId, version, now });
      await run("volumeInsertFiles", {
        volumeId,
        version,
        paths: list.map((f) => f.path),
        hashes: list.map((f) => f.hash),
        sizes: list.map((f) => String(f.size)),
      });
      return { version, files: list };
    });
  }
  volumePrune(volumeId: string, keep: Set<number>): Promise<string[]> {
    return this.tx(async (run) => {
      // Every volume's commits wait: none can name a hash between the check and the answer.
      await run("volumeLockAll", {});
      const latest = (await run<{ version: number | null }>("volumeLatest", { volumeId })).rows[0]?.version ?? 0;
      const dropped = await run<{ hash: string }>("volumeDropVersions", {
        volumeId,
        latest,
        keep: [...keep].map(String),
      });
      const candidates = [...new Set(dropped.rows.map((r) => r.hash))];
      if (candidates.length === 0) return [];
      return (await run<{ hash: string }>("volumeHashesUnused", { hashes: candidates })).rows.map((r) => r.hash);
    });
  }
  async volumeHashUsed(hash: string): Promise<boolean> {
    return (await this.rows("volumeHashUsed", { hash })).length > 0;
  }
}
