import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type CallOutcome, decodeCbor, type LogEntry, type Payload } from "@skiff/protocol";
import pg from "pg";
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
  type StoredCallColumns,
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
import {
  type AppRow,
  type AttemptRow,
  type CallListQuery,
  type CallListRow,
  type CallRow,
  type ClassInstanceRow,
  type DeploymentRow,
  type EnvironmentRow,
  type FunctionRow,
  type GraphRow,
  type GraphStatus,
  type InputRow,
  type LogQuery,
  type LogRow,
  type MapCallRow,
  type PendingCall,
  type Store,
  StoreCommitError,
  type StoredCall,
  StoreOpenError,
  StoreUnavailableError,
  type TokenRow,
} from "../store.js";
import { type BatchOp, batchText, joinable, opText } from "./pg-batch.js";
import { PgStatement, type SqlValue } from "./pg-sql.js";
import { PostgresObjectStore } from "./postgres-objects.js";
import { claimServer, type ServerClaim } from "./server-claim.js";

const SQL_DIR = new URL("../../../sql/postgres/", import.meta.url);
/** Migrations of several servers starting at once on one database run one at a time. */
const MIGRATION_LOCK = 7_420_012;
/** How long connecting may take (a busy host needs more than a quiet one). */
const CONNECT_TIMEOUT_MS = 10_000;
/** A commit carries at most about this much SQL text; the rest waits for the next one. */
const MAX_BATCH_CHARS = 16 * 1024 * 1024;

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  /** Longest a write waits for its group commit. @defaultValue 1 */
  commitDelayMs?: number;
  /** Connections in the pool (reads, and the commit in flight). @defaultValue 8 */
  poolSize?: number;
  log?: (msg: string) => void;
}

type Params = Record<string, SqlValue>;
/**
 * Writes to the tables whose later writes fold into a queued insert (`calls`, `graph_inputs`,
 * `attempts`) that such a write may move ahead of: keyed by the row's key, reading none of the
 * columns the folded write sets (another row's insert, completion, status or parking).
 */
const FOLD_SAFE = new Map([
  ["calls", new Set(["insertCall", "insertEndedCall", "completeCall", "setParked"])],
  ["graph_inputs", new Set(["insertGraphInput", "insertUpdatedGraphInput", "updateGraphInput"])],
  ["attempts", new Set(["insertAttempt", "insertEndedAttempt", "endAttempt"])],
]);
interface Op extends BatchOp {
  seq: number;
  onResult: ((r: pg.QueryResult) => void) | undefined;
  onError: ((e: Error) => void) | undefined;
}
interface FlushWaiter {
  seq: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

// BIGINT columns (times in ms, counts) as numbers: every value Skiff stores fits in 2^53.
const types = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === 20) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/**
 * The store on Postgres (`skiff server --store postgres://…`). Writes queue in memory in
 * order and go to the server as one multi-statement query per group commit, which Postgres
 * runs as a single transaction: one round trip and one fsync cover every write of the
 * window, and a statement's many rows go as one multi-row statement (pg-batch.ts). Reads run on a pool after waiting for the commit of earlier writes, so they see
 * committed rows only, and this process's own writes (read-your-writes). A failed commit
 * (database gone, disk full) rejects its flushes; the pool reconnects for the next one.
 */
export class PostgresStore implements Store {
  /** Dicts, Queues and Volumes: on the same pool, each write its own transaction. */
  readonly objects: PostgresObjectStore;
  private readonly stmts = new Map<string, PgStatement>();
  private queue: Op[] = [];
  private queuedChars = 0;
  private seq = 0;
  private committedSeq = 0;
  private waiters: FlushWaiter[] = [];
  /**
   * Calls whose insert is queued and not yet sent, with their inputs' inserts: a completion
   * folds into them (completeCall). Emptied at each commit: bounded by the queue.
   */
  private readonly unsent = new Map<string, { call: Op; inputs: Op[] }>();
  /**
   * The same for graph rows (by input id) and attempts (by input id and attempt): their status
   * updates and ends fold into their queued insert (updateGraphInput, endAttempt).
   */
  private readonly unsentGraph = new Map<string, Op>();
  private readonly unsentAttempts = new Map<string, Op>();
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private commitObserver: ((ms: number) => void) | undefined;
  private readonly log: (msg: string) => void;
  private readonly commitDelayMs: number;

  private claim: ServerClaim | undefined;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly opts: PostgresStoreOptions,
  ) {
    this.log = opts.log ?? (() => {});
    this.commitDelayMs = opts.commitDelayMs ?? 1;
    this.objects = new PostgresObjectStore(pool);
    for (const [name, sql] of loadNamedStatements(new URL("queries.sql", SQL_DIR)))
      this.stmts.set(name, new PgStatement(name, sql));
  }

  /**
   * Connects, checks the schema and applies pending migrations.
   * @throws StoreOpenError with a one-line message naming the problem.
   */
  static async open(opts: PostgresStoreOptions): Promise<PostgresStore> {
    const where = describeUrl(opts.url);
    const pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.poolSize ?? 8,
      // No limit on waiting for a pooled connection: a burst of reads queues for the pool
      // (a refused or failed connect still fails at once; queries are bounded below).
      // Nothing waits forever on a database that stopped answering.
      query_timeout: 60_000,
      // Connections stay open: a new one costs a backend process and an authentication.
      idleTimeoutMillis: 0,
      types,
    });
    // An idle connection that breaks (a database restart) is dropped by the pool; not fatal.
    pool.on("error", (err) => opts.log?.(`a Postgres connection failed (it is replaced): ${err.message}`));
    try {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("timeout")), CONNECT_TIMEOUT_MS);
      });
      try {
        await Promise.race([migrate(pool), timeout]);
      } finally {
        clearTimeout(timer);
      }
    } catch (err) {
      await pool.end().catch(() => {});
      if (err instanceof StoreOpenError) throw err;
      throw new StoreOpenError(explainConnectError(err, where));
    }
    const store = new PostgresStore(pool, opts);
    try {
      await store.learnTypes();
    } catch (err) {
      await pool.end().catch(() => {});
      throw new StoreOpenError(`cannot use Postgres at ${where}: ${(err as Error).message}`);
    }
    return store;
  }

  /**
   * The parameter types of the statements that join into multi-row UPDATEs (their VALUES
   * list is typed): as Postgres infers them for the statement, asked once at open.
   */
  private async learnTypes(): Promise<void> {
    const client = await this.pool.connect();
    try {
      for (const st of this.stmts.values()) {
        if (st.shape?.kind !== "update") continue;
        try {
          await client.query(`PREPARE skiff_probe AS ${st.text}`);
        } catch {
          continue; // Postgres cannot type it alone: it runs as its own statement, as before
        }
        try {
          const r = await client.query<{ types: string[] }>(
            "SELECT parameter_types::text[] AS types FROM pg_prepared_statements WHERE name = 'skiff_probe'",
          );
          st.shape.types = r.rows[0]!.types;
        } finally {
          await client.query("DEALLOCATE skiff_probe");
        }
      }
    } finally {
      client.release();
    }
  }

  private stmt(name: string): PgStatement {
    const s = this.stmts.get(name);
    if (!s) throw new Error(`no SQL statement named ${name}`);
    return s;
  }

  // ---- writes: queued, group-committed -------------------------------------------------

  private write(
    name: string,
    params: Params,
    onResult?: (r: pg.QueryResult) => void,
    onError?: (e: Error) => void,
  ): Op {
    if (this.closed) throw new Error("store is closed");
    const st = this.stmt(name);
    const wantsResult = !!onResult;
    const joins = joinable(st, wantsResult);
    const text = opText(st, params, joins);
    const op: Op = { seq: ++this.seq, statement: st, params, wantsResult, text, joins, onResult, onError };
    this.queue.push(op);
    this.queuedChars += text.length;
    // Past a write that is not a plain keyed INSERT/UPDATE (a DELETE, a statement that reads
    // other rows, one whose result is wanted), or one that changes calls by other than their
    // id, a call's completion no longer folds into its queued insert: that write might see the
    // difference.
    if (!joins || FOLD_SAFE.get(st.shape?.table ?? "")?.has(name) === false) this.forgetUnsent();
    this.schedule();
    return op;
  }

  /** No later write folds into a write queued so far. */
  private forgetUnsent(): void {
    this.unsent.clear();
    this.unsentGraph.clear();
    this.unsentAttempts.clear();
  }

  /** Rewrites a queued, unsent write as another statement (a fold, see completeCall). */
  private rewrite(op: Op, name: string, params: Params): void {
    const st = this.stmt(name);
    const joins = joinable(st, false);
    const text = opText(st, params, joins);
    this.queuedChars += text.length - op.text.length;
    Object.assign(op, { statement: st, params, text, joins });
  }

  /** A write whose answer (rows changed) is known once it is committed. */
  private writeCounted(name: string, params: Params): Promise<number> {
    return new Promise((resolve, reject) => this.write(name, params, (r) => resolve(r.rowCount ?? 0), reject));
  }

  private schedule(): void {
    if (this.timer || this.inFlight || this.queue.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.inFlight = this.commit().finally(() => {
        this.inFlight = undefined;
        this.schedule();
      });
    }, this.commitDelayMs);
  }

  private async commit(): Promise<void> {
    let n = 0;
    let chars = 0;
    while (n < this.queue.length && (n === 0 || chars < MAX_BATCH_CHARS)) chars += this.queue[n++]!.text.length;
    const ops = this.queue.splice(0, n);
    this.queuedChars -= chars;
    // Sent: nothing folds into these any more (nor, conservatively, into any still queued).
    this.forgetUnsent();
    const last = ops[ops.length - 1]!.seq;
    let failure: Error | undefined;
    try {
      // Several statements in one simple query run as one transaction (one commit).
      const { sql, owners } = batchText(ops);
      const t0 = performance.now();
      const res = await this.pool.query(sql);
      this.commitObserver?.(performance.now() - t0);
      const results = Array.isArray(res) ? (res as pg.QueryResult[]) : [res];
      for (let i = 0; i < owners.length; i++) owners[i]?.onResult?.(results[i]!);
    } catch (err) {
      failure = new StoreCommitError(err);
      this.log(failure.message);
      for (const o of ops) o.onError?.(failure);
    }
    this.committedSeq = last;
    const still: FlushWaiter[] = [];
    for (const w of this.waiters) {
      if (w.seq > last) still.push(w);
      else if (failure) w.reject(failure);
      else w.resolve();
    }
    this.waiters = still;
  }

  flush(): Promise<void> {
    const target = this.seq;
    if (target <= this.committedSeq) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ seq: target, resolve, reject }));
  }

  // ---- reads: committed rows, after earlier writes ----------------------------------------

  private async rows<T>(name: string, params: Params): Promise<T[]> {
    if (this.closed) throw new Error("store is closed");
    // Read-your-writes: earlier writes are committed (or failed) first.
    if (this.seq > this.committedSeq) await this.flush().catch(() => {});
    const s = this.stmt(name);
    try {
      return (await this.pool.query({ text: s.text, values: s.values(params) })).rows as T[];
    } catch (err) {
      throw new StoreUnavailableError(err);
    }
  }

  private async row<T>(name: string, params: Params): Promise<T | undefined> {
    return (await this.rows<T>(name, params))[0];
  }

  // ---- the Store ---------------------------------------------------------------------

  insertToken(row: TokenRow): void {
    this.write("insertToken", {
      ...row,
      expiresAt: row.expiresAt ?? null,
      environment: row.environment ?? null,
      apps: row.apps ?? null,
    });
  }
  listTokens(): Promise<TokenRow[]> {
    return this.rows<TokenRow>("listTokens", {});
  }
  revokeToken(id: string, at: number): void {
    this.write("revokeToken", { id, at });
  }
  getToken(id: string): Promise<TokenRow | undefined> {
    return this.row<TokenRow>("getToken", { id });
  }
  async countAdminTokens(): Promise<number> {
    return (await this.row<{ n: number }>("countTokens", {}))!.n;
  }
  addBlobGrant(tokenId: string, blobId: string, seq: number): void {
    this.write("addBlobGrant", { tokenId, blobId, seq });
  }
  async hasBlobGrant(tokenId: string, blobId: string): Promise<boolean> {
    return (await this.row("hasBlobGrant", { tokenId, blobId })) !== undefined;
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
  getEnvironment(name: string): Promise<EnvironmentRow | undefined> {
    return this.row<EnvironmentRow>("getEnvironment", { name });
  }
  listEnvironments(): Promise<EnvironmentRow[]> {
    return this.rows<EnvironmentRow>("listEnvironments", {});
  }
  deleteEnvironment(name: string): void {
    this.write("deleteEnvironment", { name });
  }
  async environmentContents(name: string): Promise<{ apps: number; objects: number; secrets: number }> {
    const r = (await this.row<{ apps: number; objects: number; secrets: number }>("environmentContents", { name }))!;
    return { apps: Number(r.apps), objects: Number(r.objects), secrets: Number(r.secrets) };
  }

  async referencedBlobs(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    return new Set((await this.rows<{ id: string }>("referencedBlobs", { ids })).map((r) => r.id));
  }

  insertApp(row: AppRow): void {
    this.write("insertApp", { ...row });
  }
  updateApp(id: string, state: AppRow["state"], version: number, stoppedAt?: number): void {
    this.write("updateApp", { id, state, version, stoppedAt: stoppedAt ?? null });
  }
  getApp(id: string): Promise<AppRow | undefined> {
    return this.row<AppRow>("getApp", { id });
  }
  findDeployedApp(environment: string, name: string): Promise<AppRow | undefined> {
    return this.row<AppRow>("findDeployedApp", { environment, name });
  }
  findLatestApp(environment: string, name: string): Promise<AppRow | undefined> {
    return this.row<AppRow>("findLatestApp", { environment, name });
  }
  listApps(environment: string, stoppedSince: number): Promise<AppRow[]> {
    return this.rows<AppRow>("listApps", { environment, since: stoppedSince });
  }
  liveApps(): Promise<AppRow[]> {
    return this.rows<AppRow>("liveApps", {});
  }
  insertDeployment(row: DeploymentRow): void {
    this.write("insertDeployment", { ...row, functions: JSON.stringify(row.functions) });
  }
  async listDeployments(appId: string): Promise<DeploymentRow[]> {
    return (await this.rows<DeploymentColumns>("listDeployments", { appId })).map(toDeployment);
  }

  trimDeployments(appId: string, keep: number): void {
    this.write("trimDeployments", { appId, keep });
  }
  forgetApps(before: number, limit: number): Promise<number> {
    return this.writeCounted("forgetApps", { before, limit });
  }

  upsertFunction(row: FunctionRow): void {
    const { active: _active, ...rest } = row;
    this.write("upsertFunction", rest);
  }
  deactivateFunctions(appId: string, belowVersion: number): void {
    this.write("deactivateFunctions", { appId, version: belowVersion });
  }
  async getFunctionByName(appId: string, name: string): Promise<FunctionRow | undefined> {
    const r = await this.row<FunctionColumns>("getFunctionByName", { appId, name });
    return r ? toFunction(r) : undefined;
  }
  async appFunctions(appId: string): Promise<FunctionRow[]> {
    return (await this.rows<FunctionColumns>("appFunctions", { appId })).map(toFunction);
  }

  insertClassInstance(row: ClassInstanceRow): void {
    this.write("insertClassInstance", { ...row });
  }
  touchClassInstances(ids: string[], at: number): void {
    if (ids.length > 0) this.write("touchClassInstances", { ids, at });
  }
  forgetClassInstances(before: number, limit: number): Promise<number> {
    return this.writeCounted("forgetClassInstances", { before, limit });
  }
  async getClassInstance(id: string): Promise<ClassInstanceRow | undefined> {
    const r = await this.row<ClassInstanceColumns>("getClassInstance", { id });
    return r ? toClassInstance(r) : undefined;
  }

  insertCall(row: CallRow, inputs: InputRow[]): void {
    const call = this.write("insertCall", callParams(row));
    const ins = inputs.map((i) => this.write("insertInput", inputParams(i)));
    this.unsent.set(row.id, { call, inputs: ins });
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
    const ended = completeParams(id, state, outcome, completedAt, expiresAt);
    const unsent = this.unsent.get(id);
    if (unsent) {
      // Its insert has not been sent yet (a call that ran while the commit before it was in
      // flight): the insert writes the ended row, and its inputs' rows without their blobs.
      // One row version instead of two, and the calls table's indexes written once, not
      // twice. Nothing queued since reads these rows (see write), and the completion is as
      // durable as before: it commits with the insert, which is no later than it would have.
      this.unsent.delete(id);
      this.rewrite(unsent.call, "insertEndedCall", { ...unsent.call.params, ...ended });
      for (const i of unsent.inputs) this.rewrite(i, "insertInput", { ...i.params, blobId: null });
      return;
    }
    this.write("completeCall", ended);
    // Inputs stay until the call expires (the dashboard shows a finished call's arguments), but
    // let go of their blobs as the contract says: a large argument may be swept from then on.
    this.write("releaseInputBlobs", { callId: id });
  }
  deleteCall(id: string): void {
    this.write("deleteInputs", { callId: id });
    this.write("deleteCall", { id });
  }
  async getCall(id: string): Promise<StoredCall | undefined> {
    return toStoredCall(await this.row("getCall", { id }));
  }
  /**
   * Every call (each `.remote` and `.spawn`) looks its idempotency key up first: the lookups
   * of one turn of the event loop go to Postgres as one query, so a burst of 2 000 spawns costs
   * a few round trips (and waits for the commit of earlier writes once), not 2 000.
   */
  getCallByIdempotencyKey(key: string): Promise<StoredCall | undefined> {
    return new Promise((resolve, reject) => {
      if (!this.keyLookups) {
        this.keyLookups = new Map();
        setImmediate(() => void this.lookUpKeys());
      }
      let waiting = this.keyLookups.get(key);
      if (!waiting) {
        waiting = [];
        this.keyLookups.set(key, waiting);
      }
      waiting.push({ resolve, reject });
    });
  }
  private keyLookups: Map<string, KeyWaiter[]> | undefined;
  private async lookUpKeys(): Promise<void> {
    const batch = this.keyLookups!;
    this.keyLookups = undefined;
    try {
      const rows = await this.rows<StoredCallColumns & { key: string }>("getCallsByKeys", { keys: [...batch.keys()] });
      const byKey = new Map(rows.map(({ key, ...r }) => [key, r]));
      for (const [key, waiting] of batch) {
        const found = toStoredCall(byKey.get(key));
        for (const w of waiting) w.resolve(found);
      }
    } catch (err) {
      for (const waiting of batch.values()) for (const w of waiting) w.reject(err as Error);
    }
  }
  async pendingCalls(after: string, limit: number): Promise<PendingCall[]> {
    return this.withInputs(await this.rows<PendingCallColumns>("pendingCalls", { after, limit }));
  }
  async parkedCalls(functionId: string, limit: number): Promise<PendingCall[]> {
    return this.withInputs(await this.rows<PendingCallColumns>("parkedCalls", { functionId, limit }));
  }
  /** The inputs of a page of calls, in one query. */
  private async withInputs(rows: PendingCallColumns[]): Promise<PendingCall[]> {
    if (rows.length === 0) return [];
    return toPendingCalls(rows, await this.rows<InputColumns>("inputsOfCalls", { callIds: rows.map((r) => r.id) }));
  }
  setParked(id: string, parked: boolean): void {
    this.write("setParked", { id, parked: parked ? 1 : 0 });
  }
  async expireCalls(now: number): Promise<number> {
    const n = await this.writeCounted("expireCalls", { now });
    if (n > 0) this.write("deleteExpiredInputs", {});
    return n;
  }
  forgetExpiredCalls(before: number, limit: number): Promise<number> {
    return this.writeCounted("forgetExpiredCalls", { before, limit });
  }

  insertMapCall(row: MapCallRow): void {
    this.write("insertMapCall", { ...row });
  }
  async getMapCall(id: string): Promise<MapCallRow | undefined> {
    return this.row<MapCallRow>("getMapCall", { id });
  }
  setMapCallExpiry(id: string, expiresAt: number | null): void {
    this.write("setMapCallExpiry", { id, expiresAt });
  }
  orphanMapCalls(expiresAt: number): void {
    this.write("orphanMapCalls", { expiresAt });
  }
  async expireMapCalls(now: number): Promise<number> {
    return this.writeCounted("expireMapCalls", { now });
  }

  insertGraphInput(row: {
    inputId: string;
    callId: string;
    parentInputId: string | null;
    functionName: string;
    createdAt: number;
  }): void {
    this.unsentGraph.set(row.inputId, this.write("insertGraphInput", { ...row }));
  }
  updateGraphInput(inputId: string, taskId: string | null, status: GraphStatus): void {
    const insert = this.unsentGraph.get(inputId);
    if (insert) {
      // Its insert is still queued (a spawned call that started, or ended, within one group
      // commit): the insert writes the row as this update leaves it, as completeCall does.
      const p = insert.params;
      this.rewrite(insert, "insertUpdatedGraphInput", {
        inputId: p.inputId!,
        callId: p.callId!,
        parentInputId: p.parentInputId!,
        functionName: p.functionName!,
        createdAt: p.createdAt!,
        taskId: taskId ?? p.taskId ?? null,
        status,
      });
      return;
    }
    this.write("updateGraphInput", { inputId, taskId, status });
  }
  graphInputsOfCall(callId: string): Promise<GraphRow[]> {
    return this.rows<GraphRow>("graphInputsOfCall", { callId });
  }
  graphChildren(parentInputId: string): Promise<GraphRow[]> {
    return this.rows<GraphRow>("graphChildren", { parentInputId });
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
    const op = this.write("insertAttempt", { ...row, coldStartMs: Math.round(row.coldStartMs) });
    this.unsentAttempts.set(`${row.inputId} ${row.attempt}`, op);
  }
  endAttempt(inputId: string, attempt: number, status: string, endedAt: number): void {
    const key = `${inputId} ${attempt}`;
    const insert = this.unsentAttempts.get(key);
    if (insert) {
      // Its insert is still queued: inserted ended (one row version), as completeCall does.
      this.unsentAttempts.delete(key);
      const p = insert.params;
      this.rewrite(insert, "insertEndedAttempt", {
        inputId: p.inputId!,
        callId: p.callId!,
        attempt: p.attempt!,
        containerId: p.containerId!,
        queuedAt: p.queuedAt!,
        startedAt: p.startedAt!,
        coldStartMs: p.coldStartMs!,
        status,
        endedAt,
      });
      return;
    }
    this.write("endAttempt", { inputId, attempt, status, endedAt });
  }
  /** A dynamic read (the calls list, logs): built from fixed fragments, values as $n. */
  private async dynamic<T>(text: string, values: SqlValue[]): Promise<T[]> {
    if (this.closed) throw new Error("store is closed");
    if (this.seq > this.committedSeq) await this.flush().catch(() => {});
    try {
      return (await this.pool.query({ text, values })).rows as T[];
    } catch (err) {
      throw new StoreUnavailableError(err);
    }
  }
  async listCalls(q: CallListQuery): Promise<CallListRow[]> {
    const { sql, params } = callListSql(q);
    const values: SqlValue[] = [];
    // The same fragments as SQLite's, with @name placeholders numbered for Postgres.
    const text = sql
      .replace(/@(\w+)/g, (_m, n: string) => {
        values.push(params[n] as SqlValue);
        return `$${values.length}`;
      })
      .replace("instr(c.function_id, '.') > 0", "strpos(c.function_id, '.') > 0")
      .replace("substr(c.function_id, 1, instr(c.function_id, '.') - 1)", "split_part(c.function_id, '.', 1)")
      .replace(/ AS (functionId|appId|createdAt|completedAt|functionName|appName)\b/g, ' AS "$1"');
    return this.dynamic<CallListRow>(text, values);
  }
  async callSummary(id: string): Promise<CallListRow | undefined> {
    return this.row<CallListRow>("callSummary", { id });
  }
  async callArgs(callId: string): Promise<Payload | undefined> {
    const r = await this.row<{ args: Buffer }>("callArgs", { callId });
    return r ? (decodeCbor(r.args) as Payload) : undefined;
  }
  async callAttempts(callId: string, limit: number): Promise<AttemptRow[]> {
    return this.rows<AttemptRow>("callAttempts", { callId, limit });
  }
  async queryLogs(q: LogQuery): Promise<LogRow[]> {
    const where: string[] = [];
    const values: SqlValue[] = [];
    const add = (cond: string, v: SqlValue | undefined) => {
      if (v === undefined) return;
      values.push(v);
      where.push(cond.replace("?", `$${values.length}`));
    };
    add("app_id = ?", q.appId);
    add("function_name = ?", q.functionName);
    add("input_id = ?", q.inputId);
    add("container_id = ?", q.containerId);
    add("seq > ?", q.afterSeq);
    add("seq < ?", q.beforeSeq);
    values.push(q.limit);
    const order = q.afterSeq !== undefined ? "ASC" : "DESC";
    const rows = await this.dynamic<LogColumns & { seq: number }>(
      `SELECT seq, ts, app_id AS "appId", function_name AS "functionName", input_id AS "inputId",
        container_id AS "containerId", stream, text FROM logs ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
        ORDER BY seq ${order} LIMIT $${values.length}`,
      values,
    );
    const out = rows.map(toLogRow);
    return order === "DESC" ? out.reverse() : out;
  }
  setCommitObserver(observe: ((ms: number) => void) | undefined): void {
    this.commitObserver = observe;
  }

  upsertSecret(environment: string, name: string, values: Record<string, string>): void {
    this.write("upsertSecret", { environment, name, vals: JSON.stringify(values), createdAt: Date.now() });
  }
  async getSecret(environment: string, name: string): Promise<Record<string, string> | undefined> {
    const r = await this.row<{ vals: string }>("getSecret", { environment, name });
    return r ? (JSON.parse(r.vals) as Record<string, string>) : undefined;
  }
  async listSecrets(environment: string): Promise<{ name: string; keys: string[]; createdAt: number }[]> {
    return (await this.rows<{ name: string; vals: string; createdAt: number }>("listSecrets", { environment })).map(
      toSecretSummary,
    );
  }
  async deleteSecret(environment: string, name: string): Promise<boolean> {
    return (await this.writeCounted("deleteSecret", { environment, name })) > 0;
  }

  appendLogs(entries: LogEntry[]): void {
    for (const e of entries) this.write("insertLog", logParams(e));
  }
  async tailLogs(appId: string, limit: number): Promise<LogEntry[]> {
    return (await this.rows<LogColumns>("tailLogs", { appId, limit })).map(toLogEntry);
  }
  trimLogs(appId: string, keepLines: number, keepBytes: number): void {
    this.write("trimLogs", { appId, keepLines, keepBytes });
  }

  async claimServer(): Promise<void> {
    this.claim ??= await claimServer(this.opts.url, describeUrl(this.opts.url), this.log);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.inFlight || this.queue.length > 0) {
      if (this.inFlight) await this.inFlight;
      else {
        this.inFlight = this.commit().finally(() => {
          this.inFlight = undefined;
        });
      }
    }
    this.closed = true;
    await this.pool.end();
    await this.claim?.release();
  }
}

interface KeyWaiter {
  resolve: (c: StoredCall | undefined) => void;
  reject: (e: Error) => void;
}

/** Applies the numbered migrations not applied yet; refuses a schema newer than this server's. */
async function migrate(pool: pg.Pool): Promise<void> {
  const dir = fileURLToPath(new URL("migrations/", SQL_DIR));
  const files = readdirSync(dir)
    .filter((f) => /^\d+-.*\.sql$/.test(f))
    .sort();
  const known = Math.max(0, ...files.map((f) => Number.parseInt(f, 10)));
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
    try {
      await client.query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
      );
      const done = new Set(
        (await client.query<{ version: number }>("SELECT version FROM schema_migrations")).rows.map((r) => r.version),
      );
      const newest = Math.max(0, ...done);
      if (newest > known)
        throw new StoreOpenError(
          `the database's schema is version ${newest}, newer than this server knows (${known}): run a newer skiff server`,
        );
      for (const file of files) {
        const version = Number.parseInt(file, 10);
        if (done.has(version)) continue;
        await client.query("BEGIN");
        try {
          await client.query(readFileSync(join(dir, file), "utf8"));
          await client.query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", [
            version,
            Date.now(),
          ]);
          await client.query("COMMIT");
        } catch (err) {
          await client.query("ROLLBACK").catch(() => {});
          throw new StoreOpenError(`migration ${file} failed: ${(err as Error).message}`);
        }
      }
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => {});
    }
  } finally {
    client.release();
  }
}

/** user@host:port/db, without the password, for messages. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.username ? `${decodeURIComponent(u.username)}@` : ""}${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return "(unparsable URL)";
  }
}

/** One line that says what went wrong connecting, and what to do. */
function explainConnectError(err: unknown, where: string): string {
  const e = err as { code?: string; message?: string };
  const code = e.code ?? "";
  if (["ECONNREFUSED", "ENOTFOUND", "EHOSTUNREACH", "ETIMEDOUT", "EAI_AGAIN", "ENETUNREACH"].includes(code))
    return `cannot reach Postgres at ${where} (${code}): is it running, and is the host and port right?`;
  if (/timeout/i.test(e.message ?? ""))
    return `cannot reach Postgres at ${where} (no answer within ${CONNECT_TIMEOUT_MS / 1000} s): is it running, and is the host and port right?`;
  if (code === "28P01") return `Postgres at ${where} refused the password: check the user and password in --store`;
  if (code === "28000")
    return `Postgres at ${where} refused the connection (${e.message}): check the user in --store and pg_hba.conf`;
  if (code === "3D000") return `Postgres at ${where}: ${e.message}: create it first (createdb)`;
  return `cannot use Postgres at ${where}: ${e.message ?? String(err)}`;
}
