import type Database from "better-sqlite3";
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
import { encodeRun, runsOf, splitRun } from "../queue-runs.js";
import { toStoredValue, type ValueColumns, valueParams } from "../row-mapping.js";
import { loadNamedStatements } from "../sql-file.js";
import { ObjectRowCache } from "./object-row-cache.js";

const SQL = new URL("../../../sql/sqlite/objects.sql", import.meta.url);

/** What the object store needs of the SQLite store that owns the database. */
export interface SqliteObjectsHost {
  db: Database.Database;
  /** Opens the group transaction if none is open (writes join it). */
  begin(): void;
  /** Resolves once every write so far is committed. */
  flush(): Promise<void>;
  /**
   * Runs `fn`'s writes and commits them at once, if the store commits a lone write so now
   * (sqlite-store.ts commitNow); undefined if not, with `fn` not run.
   */
  commitNow<T>(fn: () => T): { value: T } | undefined;
  /** Runs `fn`'s writes in the group window, all or none (a savepoint). */
  atomically<T>(fn: () => T): T;
  /** Called when a commit fails and its window is rolled back. */
  onRollback(listener: () => void): void;
}

type Row = Record<string, unknown>;

const fromBuffer = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/**
 * `{ lo, hi }` when `ids` are lo, lo + 1, …, hi in that order (a lease's items as a take
 * returned them, when none between was leased to another get): the range then holds exactly
 * these items. Otherwise undefined.
 */
export function consecutive(ids: number[]): { lo: number; hi: number } | undefined {
  const lo = ids[0];
  if (lo === undefined) return undefined;
  for (let i = 1; i < ids.length; i++) if (ids[i] !== lo + i) return undefined;
  return { lo, hi: lo + ids.length - 1 };
}

/**
 * Dicts, Queues and Volumes in the embedded SQLite store. Each method's reads and writes run
 * synchronously (so each is atomic in this single-threaded process) inside the store's group
 * transaction; a write's promise resolves at the commit that covers it.
 */
export class SqliteObjectStore implements ObjectStore {
  private readonly stmts = new Map<string, Database.Statement>();
  /** Rows by id: every operation on an object looks it up first (object-row-cache.ts). */
  private readonly rows = new ObjectRowCache();

  constructor(private readonly host: SqliteObjectsHost) {
    for (const [name, sql] of loadNamedStatements(SQL)) this.stmts.set(name, host.db.prepare(sql));
    host.onRollback(() => this.rows.clear());
  }

  private stmt(name: string): Database.Statement {
    const s = this.stmts.get(name);
    if (!s) throw new Error(`no SQL statement named ${name}`);
    return s;
  }

  private run(name: string, params: Row): Database.RunResult {
    this.host.begin();
    return this.stmt(name).run(params);
  }

  private get<T>(name: string, params: Row): T | undefined {
    return this.stmt(name).get(params) as T | undefined;
  }

  private all<T>(name: string, params: Row): T[] {
    return this.stmt(name).all(params) as T[];
  }

  /** Runs writes now, resolves once they are committed (at once when they are alone). */
  private async durable<T>(fn: () => T): Promise<T> {
    const now = this.host.commitNow(fn);
    if (now) return now.value;
    const r = this.host.atomically(fn);
    await this.host.flush();
    return r;
  }

  createObject(row: ObjectRow): Promise<ObjectRow> {
    return this.durable(() => {
      this.run("insertObject", { ...row });
      if (row.name === null) return row;
      return this.get<ObjectRow>("findObject", { environment: row.environment, name: row.name })!;
    });
  }
  async countObjects(environment: string): Promise<number> {
    return this.get<{ n: number }>("countObjects", { environment })!.n;
  }
  async getObject(id: string): Promise<ObjectRow | undefined> {
    const cached = this.rows.get(id);
    if (cached) return cached;
    const row = this.get<ObjectRow>("getObject", { id });
    return row && this.rows.set(row);
  }
  async findObject(environment: string, name: string): Promise<ObjectRow | undefined> {
    return this.get<ObjectRow>("findObject", { environment, name });
  }
  async listObjects(environment: string, kind: ObjectKind): Promise<ObjectRow[]> {
    return this.all<ObjectRow>("listObjects", { environment, kind });
  }
  async ownedObjects(owner: { app: string } | { session: string }): Promise<ObjectRow[]> {
    return "app" in owner
      ? this.all<ObjectRow>("objectsOfApp", { owner: owner.app })
      : this.all<ObjectRow>("objectsOfSession", { owner: owner.session });
  }
  async ephemeralObjects(): Promise<ObjectRow[]> {
    return this.all<ObjectRow>("ephemeralObjects", {});
  }
  deleteObject(id: string): Promise<boolean> {
    return this.durable(() => {
      this.rows.delete(id);
      const gone = this.run("deleteObject", { id }).changes > 0;
      this.run("deleteDictEntries", { id });
      this.run("deleteQueueItems", { id });
      this.run("deleteQueuePartitions", { id });
      this.run("deleteVolumeFiles", { id });
      this.run("deleteVolumeVersions", { id });
      return gone;
    });
  }

  dictPut(
    dictId: string,
    key: string,
    value: StoredValue,
    now: number,
    skipIfExists: boolean,
    touchAfter = 0,
  ): Promise<boolean> {
    return this.durable(() =>
      skipIfExists
        ? this.run("dictInsertIfMissing", { dictId, key, now, ...valueParams(value) }).changes > 0
        : this.writeEntry(dictId, key, value, now, touchAfter),
    );
  }
  dictUpdate(dictId: string, entries: [string, StoredValue][], now: number, touchAfter = 0): Promise<void> {
    return this.durable(() => {
      for (const [key, value] of entries) this.writeEntry(dictId, key, value, now, touchAfter);
    });
  }
  /**
   * An overwrite of an entry touched within `touchAfter` sets the value alone: its idle time
   * (and so the dict_entries_touched index) stays, and the commit writes one page, not the
   * three an upsert moving the index entry writes (fewer WAL frames, rarer checkpoints).
   * Anything else (a new key, an entry idle for longer) is the full upsert.
   */
  private writeEntry(dictId: string, key: string, value: StoredValue, now: number, touchAfter: number): boolean {
    const v = valueParams(value);
    if (
      touchAfter > 0 &&
      this.run("dictOverwriteFresh", { dictId, key, freshAfter: now - touchAfter, ...v }).changes > 0
    )
      return true;
    return this.run("dictUpsert", { dictId, key, now, ...v }).changes > 0;
  }
  async dictGet(dictId: string, key: string, now: number, touchAfter: number): Promise<StoredValue | undefined> {
    const r = this.get<ValueColumns & { touchedAt: number }>("dictGet", { dictId, key });
    if (!r) return undefined;
    // A read keeps an entry alive, but costs a write only once per `touchAfter`.
    if (now - r.touchedAt > touchAfter) this.run("dictTouch", { dictId, key, now });
    return toStoredValue(r);
  }
  dictDelete(dictId: string, key: string): Promise<StoredValue | undefined> {
    return this.durable(() => {
      this.host.begin();
      const r = this.stmt("dictDelete").get({ dictId, key }) as ValueColumns | undefined;
      return r ? toStoredValue(r) : undefined;
    });
  }
  async dictLen(dictId: string): Promise<number> {
    return this.get<{ n: number }>("dictLen", { dictId })!.n;
  }
  async dictScan(dictId: string, after: string | undefined, limit: number): Promise<DictEntryRow[]> {
    const rows =
      after === undefined
        ? this.all<ValueColumns & { key: string }>("dictScanFirst", { dictId, limit })
        : this.all<ValueColumns & { key: string }>("dictScanAfter", { dictId, after, limit });
    return rows.map((r) => ({ key: r.key, value: toStoredValue(r) }));
  }
  dictClear(dictId: string): Promise<void> {
    return this.durable(() => {
      this.run("dictClear", { dictId });
    });
  }
  dictExpire(before: number): Promise<number> {
    return this.durable(() => this.run("dictExpire", { before }).changes);
  }

  queuePut(
    queueId: string,
    partition: string,
    items: QueueItems,
    now: number,
    limits: { maxItems: number; maxPartitions: number },
  ): Promise<QueuePutResult> {
    const count = items.ends.length;
    // The checks and the insert are one synchronous step: no other put runs between them.
    let part = this.partition(queueId, partition);
    if (!part) {
      const count = this.get<{ n: number }>("queuePartitionCount", { queueId })!.n;
      if (count >= limits.maxPartitions) return Promise.resolve({ ok: false, reason: "partitions", count });
    }
    if ((part?.size ?? 0) + count > limits.maxItems)
      return Promise.resolve({ ok: false, reason: "full", size: part?.size ?? 0 });
    return this.durable(() => {
      if (!part) {
        this.run("queueInsertPartition", { queueId, partition, now });
        part = this.partition(queueId, partition)!;
      }
      const insert = this.stmt("queueInsert");
      this.host.begin();
      // A few rows of runs, not a row per item (store/queue-runs.ts).
      for (const [start, end] of runsOf(items))
        insert.run(part.pid, part.nextSeq + start, end - start, encodeRun(items, start, end));
      this.run("queueGrowPartition", { pid: part.pid, n: count, now });
      return { ok: true } as const;
    });
  }
  private partition(queueId: string, partition: string) {
    return this.get<{ pid: number; size: number; nextSeq: number }>("queuePartition", { queueId, partition });
  }
  async queueTake(queueId: string, partition: string, n: number): Promise<QueueRun[]> {
    const part = this.partition(queueId, partition);
    if (!part) return [];
    // Runs in order until they hold n items (better-sqlite3 runs nothing else while iterating).
    const runs: QueueRun[] = [];
    let have = 0;
    for (const r of this.stmt("queueTakeRuns").iterate({ pid: part.pid }) as Iterable<{
      seq: number;
      n: number;
      value: Buffer;
    }>) {
      runs.push({ seq: r.seq, n: r.n, value: fromBuffer(r.value) });
      have += r.n;
      if (have >= n) break;
    }
    if (runs.length === 0) return [];
    // The last run may be taken in part: its first `keep` items are leased as a run of their
    // own, the rest is a new run right after them.
    const last = runs[runs.length - 1]!;
    const keep = last.n - (have - n);
    const whole = keep >= last.n ? runs : runs.slice(0, -1);
    if (whole.length > 0) this.run("queueLeaseRange", { pid: part.pid, lo: whole[0]!.seq, hi: whole.at(-1)!.seq });
    if (keep < last.n) {
      const [taken, rest] = splitRun(last.value, last.n, keep);
      this.run("queueSplitRun", { pid: part.pid, seq: last.seq, n: keep, value: taken });
      this.stmt("queueInsert").run(part.pid, last.seq + keep, last.n - keep, rest);
      runs[runs.length - 1] = { seq: last.seq, n: keep, value: fromBuffer(taken) };
    }
    return runs;
  }
  async queueRelease(queueId: string, partition: string, ids: number[]): Promise<void> {
    const part = this.partition(queueId, partition);
    if (!part) return;
    const range = consecutive(ids);
    if (range) this.run("queueReleaseRange", { pid: part.pid, ...range });
    else this.run("queueRelease", { pid: part.pid, seqs: JSON.stringify(ids) });
  }
  async queueAck(queueId: string, partition: string, ids: number[]): Promise<void> {
    const part = this.partition(queueId, partition);
    if (!part) return;
    const range = consecutive(ids);
    this.host.begin();
    const gone = (
      range
        ? this.stmt("queueAckRange").all({ pid: part.pid, ...range })
        : this.stmt("queueAck").all({ pid: part.pid, seqs: JSON.stringify(ids) })
    ) as { n: number }[];
    let n = 0;
    for (const g of gone) n += g.n;
    if (n > 0) this.run("queueShrink", { pid: part.pid, n });
  }
  async queueLen(queueId: string, partition: string | undefined): Promise<number> {
    if (partition === undefined) return this.get<{ n: number }>("queueLenAll", { queueId })!.n;
    const part = this.partition(queueId, partition);
    return part ? this.get<{ n: number }>("queueLenPartition", { pid: part.pid })!.n : 0;
  }
  queueClear(queueId: string, partition: string | undefined): Promise<void> {
    return this.durable(() => {
      if (partition === undefined) this.run("queueClearAll", { queueId });
      else {
        const part = this.partition(queueId, partition);
        if (part) this.run("queueClearPartition", { pid: part.pid });
      }
      this.run("queueRecount", { queueId });
    });
  }
  queueResetLeases(): Promise<void> {
    return this.durable(() => {
      this.run("queueResetLeases", {});
    });
  }
  queueExpire(before: number): Promise<number> {
    return this.durable(() => {
      const parts = this.all<{ pid: number }>("queueExpiredPartitions", { before });
      for (const p of parts) {
        this.run("queueDropPartitionItems", p);
        this.run("queueDropPartition", p);
      }
      return parts.length;
    });
  }

  async volumeLatest(volumeId: string): Promise<VolumeVersion> {
    const version = this.get<{ version: number | null }>("volumeLatest", { volumeId })?.version ?? 0;
    return { version, files: await this.volumeVersion(volumeId, version) };
  }
  async volumeVersion(volumeId: string, version: number): Promise<VolumeFileRow[]> {
    return version === 0 ? [] : this.all<VolumeFileRow>("volumeFiles", { volumeId, version });
  }
  volumeCommit(
    volumeId: string,
    changes: { path: string; hash: string | null; size: number }[],
    now: number,
  ): Promise<VolumeVersion> {
    return this.durable(() => {
      // Read the newest, apply, write the next: one synchronous step, so no commit is lost.
      const latest = this.get<{ version: number | null }>("volumeLatest", { volumeId })?.version ?? 0;
      const files = new Map<string, VolumeFileRow>();
      if (latest > 0)
        for (const f of this.all<VolumeFileRow>("volumeFiles", { volumeId, version: latest })) files.set(f.path, f);
      for (const c of changes) {
        if (c.hash === null) files.delete(c.path);
        else files.set(c.path, { path: c.path, hash: c.hash, size: c.size });
      }
      const version = latest + 1;
      this.run("volumeInsertVersion", { volumeId, version, now });
      for (const f of files.values()) this.run("volumeInsertFile", { volumeId, version, ...f });
      return { version, files: [...files.values()].sort((a, b) => (a.path < b.path ? -1 : 1)) };
    });
  }
  volumePrune(volumeId: string, keep: Set<number>): Promise<string[]> {
    return this.durable(() => {
      const latest = this.get<{ version: number | null }>("volumeLatest", { volumeId })?.version ?? 0;
      const candidates = new Set<string>();
      for (const { version } of this.all<{ version: number }>("volumeVersions", { volumeId })) {
        if (version >= latest || keep.has(version)) continue;
        for (const { hash } of this.all<{ hash: string }>("volumeHashesOf", { volumeId, version }))
          candidates.add(hash);
        this.run("volumeDropVersionFiles", { volumeId, version });
        this.run("volumeDropVersion", { volumeId, version });
      }
      return [...candidates].filter((hash) => !this.get("volumeHashUsed", { hash }));
    });
  }
  async volumeHashUsed(hash: string): Promise<boolean> {
    return this.get("volumeHashUsed", { hash }) !== undefined;
  }
}
