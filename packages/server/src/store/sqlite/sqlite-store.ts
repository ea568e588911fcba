import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type CallOutcome, decodeCbor, type LogEntry, type Payload } from "@skiff/protocol";
import Database from "better-sqlite3";
import { outcomeBlob, payloadBlob } from "../blob-refs.js";
import type { BlobStore } from "../blobs/blob-store.js";
import { callListSql } from "../call-list.js";
import {
  type ClassInstanceColumns,
  callParams,
  completeParams,
  type DeploymentColumns,
  type FunctionColumns,
  type InputColumns,
  inputParams,
  type LogColumns,
  logParams,
  type PendingCallColumns,
  statusOf,
  toClassInstance,
  toDeployment,
  toFunction,
  toLogEntry,
  toLogRow,
  toPendingCalls,
  toSecretSummary,
  toStoredCall,
} from "../row-mapping.js";
import { loadNamedStatements } from "../sql-file.js";
import type {
  AppRow,
  AttemptRow,
  CallListQuery,
  CallListRow,
  CallRow,
  ClassInstanceRow,
  DeploymentRow,
  EnvironmentRow,
  FunctionRow,
  GraphRow,
  GraphStatus,
  InputRow,
  LogQuery,
  LogRow,
  MapCallRow,
  PendingCall,
  Store,
  StoredCall,
  TokenRow,
} from "../store.js";
import { StoreCommitError, StoreOpenError } from "../store.js";
import { SqliteObjectStore } from "./sqlite-objects.js";
import { WalCheckpointer } from "./wal-checkpointer.js";

const SQL_DIR = new URL("../../../sql/sqlite/", import.meta.url);

export interface SqliteStoreOptions {
  /** Directory holding skiff.db (created if missing). */
  dataDir: string;
  /** Longest a write waits for its group commit. @defaultValue 2 */
  commitDelayMs?: number;
  /** Told about a failed commit (the waiting flushes are rejected too). */
  log?: (msg: string) => void;
}

type Row = Record<string, unknown>;

/**
 * WAL pages at which a commit checkpoints by itself (SQLite's automatic checkpoint, on the
 * event loop; SQLite's default is 1 000). By then the WalCheckpointer's thread has copied
 * and synced nearly all of them, off the request path (wal-checkpointer.ts): this one copies
 * the last few and lets the WAL start over. About 16 MiB of WAL (walKeepBytes).
 */
const COMMIT_CHECKPOINT_PAGES = 4000;

/**
 * What the WAL file is cut back to once it starts over (journal_size_limit): the size it grows
 * back to before the next automatic checkpoint, so that commits write their frames over bytes
 * the file has rather than past its end. An append past the end costs the file system a block
 * allocation and an inode update: ~3 µs more per lone commit on the 2-core VM, an eighth of
 * its time (bench/RESULTS.md). Only a WAL that a large transaction grew past this is cut back.
 */
export function walKeepBytes(pageSize: number): number {
  // The WAL's 32-byte header; a frame is a 24-byte header and a page. A margin for the commit
  // that crosses the checkpoint threshold.
  return 32 + (COMMIT_CHECKPOINT_PAGES + 64) * (24 + pageSize);
}

/**
 * The embedded store: SQLite in WAL mode. Writes run at once inside an open transaction
 * (so reads see them: read-your-writes) and are committed together every few ms: one
 * commit covers every write of that window, so durability does not cost throughput. A write
 * or commit that fails (disk full) rolls the window back and rejects its flushes.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly stmts = new Map<string, Database.Statement>();
  private inTx = false;
  private commitTimer: NodeJS.Timeout | undefined;
  private waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  /** The first write of the open window that failed: the whole window is rolled back. */
  private windowError: unknown;
  private readonly commitDelayMs: number;
  private readonly log: (msg: string) => void;
  private closed = false;
  private commitObserver: ((ms: number) => void) | undefined;
  /** Told when a window is rolled back (caches of what it wrote are dropped). */
  private readonly rollbackListeners: (() => void)[] = [];
  /** Prepared calls-list statements, one per filter combination (at most 2^6). */
  private readonly listStmts = new Map<string, Database.Statement>();
  readonly objects: SqliteObjectStore;
  /** BEGIN, COMMIT and ROLLBACK, prepared once (exec parses its text each time). */
  private readonly txStmts: Record<
    "begin" | "commit" | "rollback" | "savepoint" | "release" | "rollbackTo",
    Database.Statement
  >;
  private readonly checkpointer: WalCheckpointer;

  constructor(opts: SqliteStoreOptions) {
    mkdirSync(opts.dataDir, { recursive: true });
    this.commitDelayMs = opts.commitDelayMs ?? 2;
    this.log = opts.log ?? (() => {});
    this.db = new Database(join(opts.dataDir, "skiff.db"));
    this.db.pragma("journal_mode = WAL");
    // NORMAL: a commit survives a crash of this process (the WAL is in the OS); see docs/operations.md.
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.pragma(`wal_autocheckpoint = ${COMMIT_CHECKPOINT_PAGES}`);
    this.db.pragma(`journal_size_limit = ${walKeepBytes(this.db.pragma("page_size", { simple: true }) as number)}`);
    this.checkpointer = new WalCheckpointer({ file: this.db.name, log: this.log });
    this.txStmts = {
      begin: this.db.prepare("BEGIN"),
      commit: this.db.prepare("COMMIT"),
      rollback: this.db.prepare("ROLLBACK"),
      savepoint: this.db.prepare("SAVEPOINT object_write"),
      release: this.db.prepare("RELEASE object_write"),
      rollbackTo: this.db.prepare("ROLLBACK TO object_write"),
    };
    this.migrate();
    for (const [name, sql] of loadNamedStatements(new URL("queries.sql", SQL_DIR)))
      this.stmts.set(name, this.db.prepare(sql));
    this.objects = new SqliteObjectStore({
      db: this.db,
      begin: () => this.ensureTx(),
      flush: () => this.flushSoon(),
      commitNow: (fn) => this.commitNow(fn),
      atomically: (fn) => this.atomically(fn),
      onRollback: (listener) => this.rollbackListeners.push(listener),
    });
    this.backfillStatus();
  }

  /** Calls that ended before migration 050 get their status from their outcome, once. */
  private backfillStatus(): void {
    for (;;) {
      const rows = this.all<{ id: string; outcome: Buffer | null }>("unknownStatusCalls", {});
      if (rows.length === 0) return;
      this.db.transaction(() => {
        for (const r of rows) {
          const o = r.outcome ? (decodeCbor(r.outcome) as CallOutcome) : undefined;
          this.stmt("setCallStatus").run({ id: r.id, status: o ? statusOf(o) : "expired" });
        }
      })();
    }
  }

  private migrate(): void {
    this.db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    );
    const done = new Set(
      (this.db.prepare("SELECT version FROM schema_migrations").all() as { version: number }[]).map((r) => r.version),
    );
    const dir = fileURLToPath(new URL("migrations/", SQL_DIR));
    const files = readdirSync(dir)
      .filter((f) => /^\d+-.*\.sql$/.test(f))
      .sort();
    const known = Math.max(0, ...files.map((f) => Number.parseInt(f, 10)));
    const newest = Math.max(0, ...done);
    if (newest > known)
      throw new StoreOpenError(
        `${this.db.name}: the schema is version ${newest}, newer than this server knows (${known}): run a newer skiff server`,
      );
    // One transaction for all of them: a fresh database (each `skiff run`) pays one commit, not
    // one per migration, and a failing one leaves the schema where it was.
    this.db.transaction(() => {
      for (const file of files) {
        const version = Number.parseInt(file, 10);
        if (!Number.isFinite(version) || done.has(version)) continue;
        this.db.exec(readFileSync(join(dir, file), "utf8"));
        this.db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)").run(version, Date.now());
      }
    })();
  }

  private stmt(name: string): Database.Statement {
    const s = this.stmts.get(name);
    if (!s) throw new Error(`no SQL statement named ${name}`);
    return s;
  }

  private ensureTx(): void {
    if (this.closed) throw new Error("store is closed");
    if (!this.inTx) {
      this.txStmts.begin.run();
      this.inTx = true;
      this.commitTimer = setTimeout(() => this.commit(), this.commitDelayMs);
    } else if (!this.db.inTransaction) {
      // SQLite rolled the window back itself after a failed write (SQLITE_FULL, IOERR): later
      // writes still belong to a transaction, which the commit rolls back with the rest.
      for (const l of this.rollbackListeners) l();
      this.txStmts.begin.run();
    }
  }

  /** Runs a write inside the open group transaction; a failure fails the window's commit. */
  private write(name: string, params: Row): Database.RunResult | undefined {
    this.ensureTx();
    try {
      return this.stmt(name).run(params);
    } catch (err) {
      this.windowError ??= err;
      return undefined;
    }
  }

  private commit(): void {
    if (this.commitTimer) clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    let failure = this.windowError;
    this.windowError = undefined;
    if (this.inTx) {
      this.inTx = false;
      try {
        if (failure !== undefined) throw failure;
        const t0 = performance.now();
        this.txStmts.commit.run();
        this.commitObserver?.(performance.now() - t0);
        this.checkpointer.committed();
      } catch (err) {
        failure = err;
        try {
          if (this.db.inTransaction) this.txStmts.rollback.run();
        } catch {}
        for (const l of this.rollbackListeners) l();
      }
    }
    const waiters = this.waiters;
    this.waiters = [];
    if (failure === undefined) for (const w of waiters) w.resolve();
    else {
      const e = new StoreCommitError(failure);
      this.log(e.message);
      for (const w of waiters) w.reject(e);
    }
  }

  /**
   * Runs `fn`'s writes in a transaction of their own and commits it now, when no group window
   * is open and no other write was committed so in this turn of the event loop: a lone write
   * that a client waits on (a Dict put) is answered in the turn it arrived, with no turn spent
   * waiting for the end-of-turn commit (and its reply's flush in the next). Otherwise (or
   * while writes are many) undefined: the caller joins the window (flushSoon), and the writes
   * of a busy turn still share one commit. Throws what `fn` throws, or a StoreCommitError,
   * with nothing written.
   */
  private commitNow<T>(fn: () => T): { value: T } | undefined {
    if (this.inTx || this.committedThisTurn || this.closed) return undefined;
    this.committedThisTurn = true;
    setImmediate(() => {
      this.committedThisTurn = false;
    });
    // Marked open, so that fn's writes (ensureTx) join this transaction.
    this.inTx = true;
    let value: T;
    let inFn = false;
    try {
      this.txStmts.begin.run();
      inFn = true;
      value = fn();
      inFn = false;
      const t0 = performance.now();
      this.txStmts.commit.run();
      this.commitObserver?.(performance.now() - t0);
    } catch (err) {
      try {
        if (this.db.inTransaction) this.txStmts.rollback.run();
      } catch {}
      for (const l of this.rollbackListeners) l();
      // What fn throws, as it threw it (as from a write that joins the window).
      throw inFn ? err : new StoreCommitError(err);
    } finally {
      this.inTx = false;
    }
    this.checkpointer.committed();
    return { value };
  }
  private committedThisTurn = false;

  /**
   * Runs `fn`'s writes inside the open group window (opening one), all or none: a write that
   * throws midway takes back what `fn` wrote before it (a savepoint), and the rest of the
   * window stays.
   */
  private atomically<T>(fn: () => T): T {
    this.ensureTx();
    this.txStmts.savepoint.run();
    try {
      const r = fn();
      this.txStmts.release.run();
      return r;
    } catch (err) {
      try {
        if (this.db.inTransaction) {
          this.txStmts.rollbackTo.run();
          this.txStmts.release.run();
        }
      } catch {}
      throw err;
    }
  }

  /**
   * flush(), committing at the end of this turn of the event loop rather than after the
   * group delay: for a write a client waits on by itself (a Dict put), the commit delay would
   * be all of its latency. Writes of the same turn still share the commit.
   */
  private flushSoon(): Promise<void> {
    if (!this.inTx) return Promise.resolve();
    if (!this.commitSoon) {
      this.commitSoon = true;
      setImmediate(() => {
        this.commitSoon = false;
        this.commit();
      });
    }
    return this.flush();
  }
  private commitSoon = false;

  flush(): Promise<void> {
    if (!this.inTx) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private get<T>(name: string, params: Row): T | undefined {
    return this.stmt(name).get(params) as T | undefined;
  }

  private all<T>(name: string, params: Row): T[] {
    return this.stmt(name).all(params) as T[];
  }

  insertToken(row: TokenRow): void {
    this.write("insertToken", {
      ...row,
      expiresAt: row.expiresAt ?? null,
      environment: row.environment ?? null,
      apps: row.apps ?? null,
    });
  }
  async listTokens(): Promise<TokenRow[]> {
    return this.all<TokenRow>("listTokens", {});
  }
  revokeToken(id: string, at: number): void {
    this.write("revokeToken", { id, at });
  }
  async getToken(id: string): Promise<TokenRow | undefined> {
    return this.get<TokenRow>("getToken", { id });
  }
  async countAdminTokens(): Promise<number> {
    return this.get<{ n: number }>("countTokens", {})!.n;
  }
  addBlobGrant(tokenId: string, blobId: string, seq: number): void {
    this.write("addBlobGrant", { tokenId, blobId, seq });
  }
  async hasBlobGrant(tokenId: string, blobId: string): Promise<boolean> {
    return this.get("hasBlobGrant", { tokenId, blobId }) !== undefined;
  }
  trimBlobGrants(tokenId: string, keep: number): void {
    this.write("trimBlobGrants", { tokenId, skip: keep - 1 });
  }
  deleteBlobGrants(tokenId: string): void {
    this.write("deleteBlobGrants", { tokenId });
  }

  insertEnvironment(row: EnvironmentRow): void {
    this.write("insertEnvironment", { ...row });
  }
  async getEnvironment(name: string): Promise<EnvironmentRow | undefined> {
    return this.get<EnvironmentRow>("getEnvironment", { name });
  }
  async listEnvironments(): Promise<EnvironmentRow[]> {
    return this.all<EnvironmentRow>("listEnvironments", {});
  }
  deleteEnvironment(name: string): void {
    this.write("deleteEnvironment", { name });
  }
  async environmentContents(name: string): Promise<{ apps: number; objects: number; secrets: number }> {
    return this.get<{ apps: number; objects: number; secrets: number }>("environmentContents", { name })!;
  }

  async referencedBlobs(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    return new Set(this.all<{ id: string }>("referencedBlobs", { ids: JSON.stringify(ids) }).map((r) => r.id));
  }

  /**
   * Schema 5 moved blobs out of the database: empties the old blobs table into `blobs` and
   * fills blob_id for rows written before (once; later starts find nothing to do).
   */
  async moveLegacyBlobs(blobs: BlobStore): Promise<number> {
    const has = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'blobs'").get();
    if (!has) return 0;
    let moved = 0;
    const ids = (this.db.prepare("SELECT id FROM blobs").all() as { id: string }[]).map((r) => r.id);
    for (const id of ids) {
      const r = this.db.prepare("SELECT data FROM blobs WHERE id = ?").get(id) as { data: Buffer };
      await blobs.put(new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength));
      moved++;
    }
    this.db.transaction(() => {
      const inputs = this.db.prepare("SELECT id, args FROM inputs").iterate() as Iterable<{ id: string; args: Buffer }>;
      const setInput = this.db.prepare("UPDATE inputs SET blob_id = ? WHERE id = ?");
      for (const r of [...inputs]) {
        const b = payloadBlob(decodeCbor(r.args) as Payload);
        if (b) setInput.run(b, r.id);
      }
      const calls = this.db.prepare("SELECT id, outcome FROM calls WHERE outcome IS NOT NULL").iterate() as Iterable<{
        id: string;
        outcome: Buffer;
      }>;
      const setCall = this.db.prepare("UPDATE calls SET blob_id = ? WHERE id = ?");
      for (const r of [...calls]) {
        const b = outcomeBlob(decodeCbor(r.outcome) as CallOutcome);
        if (b) setCall.run(b, r.id);
      }
      this.db.exec("DROP TABLE blobs");
    })();
    return moved;
  }

  insertApp(row: AppRow): void {
    this.write("insertApp", { ...row });
  }
  updateApp(id: string, state: AppRow["state"], version: number, stoppedAt?: number): void {
    this.write("updateApp", { id, state, version, stoppedAt: stoppedAt ?? null });
  }
  async getApp(id: string): Promise<AppRow | undefined> {
    return this.get<AppRow>("getApp", { id });
  }
  async findDeployedApp(environment: string, name: string): Promise<AppRow | undefined> {
    return this.get<AppRow>("findDeployedApp", { environment, name });
  }
  async findLatestApp(environment: string, name: string): Promise<AppRow | undefined> {
    return this.get<AppRow>("findLatestApp", { environment, name });
  }
  async listApps(environment: string, stoppedSince: number): Promise<AppRow[]> {
    return this.all<AppRow>("listApps", { environment, since: stoppedSince });
  }
  async liveApps(): Promise<AppRow[]> {
    return this.all<AppRow>("liveApps", {});
  }
  insertDeployment(row: DeploymentRow): void {
    this.write("insertDeployment", { ...row, functions: JSON.stringify(row.functions) });
  }
  async listDeployments(appId: string): Promise<DeploymentRow[]> {
    return this.all<DeploymentColumns>("listDeployments", { appId }).map(toDeployment);
  }

  trimDeployments(appId: string, keep: number): void {
    this.write("trimDeployments", { appId, keep });
  }
  async forgetApps(before: number, limit: number): Promise<number> {
    this.ensureTx();
    // Chosen and deleted in one synchronous step: nothing runs in between.
    const ids = this.all<{ id: string }>("forgettableApps", { before, limit }).map((r) => r.id);
    if (ids.length === 0) return 0;
    const json = JSON.stringify(ids);
    for (const name of [
      "forgetAppDeployments",
      "forgetAppInstances",
      "forgetAppFunctions",
      "forgetAppLogs",
      "forgetApps",
    ])
      this.write(name, { ids: json });
    return ids.length;
  }

  upsertFunction(row: FunctionRow): void {
    const { active: _active, ...rest } = row;
    this.write("upsertFunction", rest);
  }
  deactivateFunctions(appId: string, belowVersion: number): void {
    this.write("deactivateFunctions", { appId, version: belowVersion });
  }
  async getFunctionByName(appId: string, name: string): Promise<FunctionRow | undefined> {
    const r = this.get<FunctionColumns>("getFunctionByName", { appId, name });
    return r ? toFunction(r) : undefined;
  }
  async appFunctions(appId: string): Promise<FunctionRow[]> {
    return this.all<FunctionColumns>("appFunctions", { appId }).map(toFunction);
  }

  insertClassInstance(row: ClassInstanceRow): void {
    this.write("insertClassInstance", { ...row });
  }
  touchClassInstances(ids: string[], at: number): void {
    if (ids.length > 0) this.write("touchClassInstances", { ids: JSON.stringify(ids), at });
  }
  async forgetClassInstances(before: number, limit: number): Promise<number> {
    return this.write("forgetClassInstances", { before, limit })?.changes ?? 0;
  }
  async getClassInstance(id: string): Promise<ClassInstanceRow | undefined> {
    const r = this.get<ClassInstanceColumns>("getClassInstance", { id });
    return r ? toClassInstance(r) : undefined;
  }

  insertCall(row: CallRow, inputs: InputRow[]): void {
    this.write("insertCall", callParams(row));
    for (const i of inputs) this.write("insertInput", inputParams(i));
  }
  updateInput(id: string, state: "pending" | "done", attempt: number, failures: number): void {
    this.write("updateInput", { id, state, attempt, failures });
  }
  completeCall(
    id: string,
    state: "done" | "cancelled",
    outcome: CallOutcome,
    completedAt: number,
    expiresAt: number | null,
  ): void {
    this.write("completeCall", completeParams(id, state, outcome, completedAt, expiresAt));
    // Inputs stay until the call expires (the dashboard shows a finished call's arguments), but
    // let go of their blobs as the contract says: a large argument may be swept from then on.
    this.write("releaseInputBlobs", { callId: id });
  }
  deleteCall(id: string): void {
    this.write("deleteInputs", { callId: id });
    this.write("deleteCall", { id });
  }
  async getCall(id: string): Promise<StoredCall | undefined> {
    return toStoredCall(this.get("getCall", { id }));
  }
  async getCallByIdempotencyKey(key: string): Promise<StoredCall | undefined> {
    return toStoredCall(this.get("getCallByKey", { key }));
  }
  async pendingCalls(after: string, limit: number): Promise<PendingCall[]> {
    return this.withInputs(this.all<PendingCallColumns>("pendingCalls", { after, limit }));
  }
  async parkedCalls(functionId: string, limit: number): Promise<PendingCall[]> {
    return this.withInputs(this.all<PendingCallColumns>("parkedCalls", { functionId, limit }));
  }
  private withInputs(rows: PendingCallColumns[]): PendingCall[] {
    return toPendingCalls(
      rows,
      rows.flatMap((r) => this.all<InputColumns>("callInputs", { callId: r.id })),
    );
  }
  async callArgs(callId: string): Promise<Payload | undefined> {
    const r = this.get<{ args: Buffer }>("callArgs", { callId });
    return r ? (decodeCbor(r.args) as Payload) : undefined;
  }
  setParked(id: string, parked: boolean): void {
    this.write("setParked", { id, parked: parked ? 1 : 0 });
  }
  async expireCalls(now: number): Promise<number> {
    const n = this.write("expireCalls", { now })?.changes ?? 0;
    if (n > 0) this.write("deleteExpiredInputs", {});
    return n;
  }
  async forgetExpiredCalls(before: number, limit: number): Promise<number> {
    return this.write("forgetExpiredCalls", { before, limit })?.changes ?? 0;
  }

  insertMapCall(row: MapCallRow): void {
    this.write("insertMapCall", { ...row });
  }
  async getMapCall(id: string): Promise<MapCallRow | undefined> {
    return this.get<MapCallRow>("getMapCall", { id });
  }
  setMapCallExpiry(id: string, expiresAt: number | null): void {
    this.write("setMapCallExpiry", { id, expiresAt });
  }
  orphanMapCalls(expiresAt: number): void {
    this.write("orphanMapCalls", { expiresAt });
  }
  async expireMapCalls(now: number): Promise<number> {
    return this.write("expireMapCalls", { now })?.changes ?? 0;
  }

  insertGraphInput(row: {
    inputId: string;
    callId: string;
    parentInputId: string | null;
    functionName: string;
    createdAt: number;
  }): void {
    this.write("insertGraphInput", { ...row });
  }
  updateGraphInput(inputId: string, taskId: string | null, status: GraphStatus): void {
    this.write("updateGraphInput", { inputId, taskId, status });
  }
  async graphInputsOfCall(callId: string): Promise<GraphRow[]> {
    return this.all<GraphRow>("graphInputsOfCall", { callId });
  }
  async graphChildren(parentInputId: string): Promise<GraphRow[]> {
    return this.all<GraphRow>("graphChildren", { parentInputId });
  }
  trimGraph(before: number): void {
    this.write("trimGraph", { before });
    this.write("trimAttempts", { before });
  }

  insertAttempt(row: {
    inputId: string;
    callId: string;
    attempt: number;
    containerId: string;
    queuedAt: number;
    startedAt: number;
    coldStartMs: number;
  }): void {
    this.write("insertAttempt", { ...row, coldStartMs: Math.round(row.coldStartMs) });
  }
  endAttempt(inputId: string, attempt: number, status: string, endedAt: number): void {
    this.write("endAttempt", { inputId, attempt, status, endedAt });
  }

  async listCalls(q: CallListQuery): Promise<CallListRow[]> {
    const { sql, params } = callListSql(q);
    let st = this.listStmts.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.listStmts.set(sql, st);
    }
    return st.all(params) as CallListRow[];
  }
  async callSummary(id: string): Promise<CallListRow | undefined> {
    return this.get<CallListRow>("callSummary", { id });
  }
  async callAttempts(callId: string, limit: number): Promise<AttemptRow[]> {
    return this.all<AttemptRow>("callAttempts", { callId, limit });
  }
  async queryLogs(q: LogQuery): Promise<LogRow[]> {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: q.limit };
    const add = (cond: string, key: string, v: unknown) => {
      if (v === undefined) return;
      where.push(cond);
      params[key] = v;
    };
    add("app_id = @appId", "appId", q.appId);
    add("function_name = @functionName", "functionName", q.functionName);
    add("input_id = @inputId", "inputId", q.inputId);
    add("container_id = @containerId", "containerId", q.containerId);
    add("seq > @afterSeq", "afterSeq", q.afterSeq);
    add("seq < @beforeSeq", "beforeSeq", q.beforeSeq);
    // After a position: the oldest lines after it; otherwise the newest, shown oldest first.
    const order = q.afterSeq !== undefined ? "ASC" : "DESC";
    const sql = `SELECT seq, ts, app_id AS appId, function_name AS functionName, input_id AS inputId,
      container_id AS containerId, stream, text FROM logs ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY seq ${order} LIMIT @limit`;
    let st = this.listStmts.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.listStmts.set(sql, st);
    }
    const rows = (st.all(params) as (LogColumns & { seq: number })[]).map(toLogRow);
    return order === "DESC" ? rows.reverse() : rows;
  }
  setCommitObserver(observe: ((ms: number) => void) | undefined): void {
    this.commitObserver = observe;
  }
  /** WAL checkpoints the checkpoint thread has finished (wal-checkpointer.ts). */
  get walCheckpoints(): number {
    return this.checkpointer.done;
  }

  upsertSecret(environment: string, name: string, values: Record<string, string>): void {
    this.write("upsertSecret", {
      environment,
      name,
      vals: JSON.stringify(values),
      createdAt: Date.now(),
    });
  }
  async getSecret(environment: string, name: string): Promise<Record<string, string> | undefined> {
    const r = this.get<{ vals: string }>("getSecret", { environment, name });
    return r ? (JSON.parse(r.vals) as Record<string, string>) : undefined;
  }
  async listSecrets(environment: string): Promise<{ name: string; keys: string[]; createdAt: number }[]> {
    return this.all<{ name: string; vals: string; createdAt: number }>("listSecrets", { environment }).map(
      toSecretSummary,
    );
  }
  async deleteSecret(environment: string, name: string): Promise<boolean> {
    return (this.write("deleteSecret", { environment, name })?.changes ?? 0) > 0;
  }

  appendLogs(entries: LogEntry[]): void {
    for (const e of entries) this.write("insertLog", logParams(e));
  }
  async tailLogs(appId: string, limit: number): Promise<LogEntry[]> {
    return this.all<LogColumns>("tailLogs", { appId, limit }).map(toLogEntry);
  }
  trimLogs(appId: string, keepLines: number, keepBytes: number): void {
    this.write("trimLogs", { appId, keepLines, keepBytes });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.inTx) this.commit();
    this.closed = true;
    // Its connection first: the last one to close checkpoints the WAL and removes it.
    await this.checkpointer.close();
    this.db.close();
  }
}
