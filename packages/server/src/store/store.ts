import type { AppMode, AppState, CallOutcome, LogEntry, Payload, TokenKind } from "@skiff/protocol";
import type { ObjectStore } from "./object-store.js";

/**
 * The control plane's durable state. The engine and the API use only this interface and
 * never touch a database; SQLite (embedded, the default) and Postgres implement it, and one
 * contract suite (store/contract/) runs against both.
 *
 * The contract, which both implementations keep:
 *
 * - **Writes are queued, in order.** A write method (returns `void`) is accepted at once and
 *   applied in the order it was issued; it never throws for a database error (those surface
 *   from `flush()`). A write that returns a Promise (`deleteSecret`, `expireCalls`) is a write
 *   whose answer is known once it is applied; it is ordered with the others.
 * - **Read-your-writes.** A read sees every write issued before it on this Store (it may wait
 *   for them to be applied). It may also see writes not yet durable (SQLite applies writes at
 *   once inside the open group transaction; Postgres reads only committed rows, after the
 *   commit of earlier writes), so nothing may be promised to a client on the strength of a read.
 * - **A commit covers every write issued before it.** Writes are group-committed: one commit
 *   every few milliseconds covers all writes queued since the last one. `flush()` resolves
 *   once every write issued before the call is durable, and rejects (a `StoreCommitError`)
 *   when the commit covering them failed (disk full, database gone): those writes are lost,
 *   and the store goes on with the next ones; it never leaves a `flush()` waiting forever.
 * - **When to acknowledge.** A reply that tells a client something is stored (a `.spawn`'s
 *   call id, a deploy, a secret, a token) is sent only after `await flush()`. Replies about
 *   work in memory (a `.remote` result) need no flush.
 *
 * Blobs are not here: they live in a BlobStore (store/blobs/); rows hold their ids.
 *
 * Deliberately absent: queueing, leases and deferred writes. Those live in memory in the
 * engine, which rebuilds them from `pendingCalls` at start. Adding a method means adding it
 * here, to both implementations (SQL under sql/sqlite and sql/postgres) and to the contract
 * suite.
 */
export interface Store {
  // tokens
  insertToken(row: TokenRow): void;
  getToken(id: string): Promise<TokenRow | undefined>;
  /** Every stored token (admin, api, web), oldest first. Bounded by what admins create. */
  listTokens(): Promise<TokenRow[]>;
  /** Marks a token revoked (no-op if it already is). */
  revokeToken(id: string, at: number): void;
  countAdminTokens(): Promise<number>;
  /**
   * Records that a scoped token was given a blob (sent or uploaded; auth/stored-grants.ts), or
   * renews the grant's `seq` (its age: trims keep the highest).
   */
  addBlobGrant(tokenId: string, blobId: string, seq: number): void;
  hasBlobGrant(tokenId: string, blobId: string): Promise<boolean>;
  /** Keeps a token's `keep` newest grants (by seq), deleting the others. */
  trimBlobGrants(tokenId: string, keep: number): void;
  /** Deletes every grant of a token (revoked). */
  deleteBlobGrants(tokenId: string): void;

  // environments (api.md §9): "main" always exists (made by the schema)
  /** Adds an environment (one that exists already is left as it is). */
  insertEnvironment(row: EnvironmentRow): void;
  getEnvironment(name: string): Promise<EnvironmentRow | undefined>;
  /** Every environment, by name. Bounded by what admins create. */
  listEnvironments(): Promise<EnvironmentRow[]>;
  deleteEnvironment(name: string): void;
  /** What still lives in an environment: running apps, objects (named and ephemeral), secrets. */
  environmentContents(name: string): Promise<{ apps: number; objects: number; secrets: number }>;

  /**
   * Which of these blob ids a row still refers to (an input's args, a call's outcome, a
   * function's or deployment's bundle, a Dict entry's large value). The blob sweeper deletes
   * the others.
   */
  referencedBlobs(ids: string[]): Promise<Set<string>>;

  // apps and deployments
  insertApp(row: AppRow): void;
  updateApp(id: string, state: AppState, version: number, stoppedAt?: number): void;
  getApp(id: string): Promise<AppRow | undefined>;
  findDeployedApp(environment: string, name: string): Promise<AppRow | undefined>;
  findLatestApp(environment: string, name: string): Promise<AppRow | undefined>;
  listApps(environment: string, stoppedSince: number): Promise<AppRow[]>;
  liveApps(): Promise<AppRow[]>;
  insertDeployment(row: DeploymentRow): void;
  listDeployments(appId: string): Promise<DeploymentRow[]>;
  /** Keeps an app's newest `keep` deployments (their bundles); older ones are dropped. */
  trimDeployments(appId: string, keep: number): void;
  /**
   * Forgets up to `limit` stopped ephemeral apps stopped at or before `before` that no
   * unexpired call refers to: their rows, deployments, functions, class instances and logs
   * (so their bundles may be swept). How many.
   */
  forgetApps(before: number, limit: number): Promise<number>;

  // functions (stable id per app and name across redeploys)
  upsertFunction(row: FunctionRow): void;
  deactivateFunctions(appId: string, belowVersion: number): void;
  getFunctionByName(appId: string, name: string): Promise<FunctionRow | undefined>;
  appFunctions(appId: string): Promise<FunctionRow[]>;
  /** Instances (parameter sets, option variants) of a class; inserting a known id is a no-op. */
  insertClassInstance(row: ClassInstanceRow): void;
  getClassInstance(id: string): Promise<ClassInstanceRow | undefined>;
  /** Marks class instances used at `at` (those live in memory; unknown ids are skipped). */
  touchClassInstances(ids: string[], at: number): void;
  /**
   * Drops up to `limit` class instances unused since `before` that no pending call or running
   * map refers to (a later bind with the same parameters writes the row again); how many.
   */
  forgetClassInstances(before: number, limit: number): Promise<number>;

  // calls and inputs
  insertCall(row: CallRow, inputs: InputRow[]): void;
  updateInput(id: string, state: "pending" | "done", attempt: number, failures: number): void;
  /**
   * Ends a call with its outcome. Its inputs stay until it expires (its page shows its
   * arguments) but no longer hold their blobs: a large argument may be swept from then on.
   */
  completeCall(
    id: string,
    state: "done" | "cancelled",
    outcome: CallOutcome,
    completedAt: number,
    expiresAt: number | null,
  ): void;
  deleteCall(id: string): void;
  getCall(id: string): Promise<StoredCall | undefined>;
  getCallByIdempotencyKey(key: string): Promise<StoredCall | undefined>;
  /** Pending calls in id order with their inputs, a page at a time (recovery at start). */
  pendingCalls(after: string, limit: number): Promise<PendingCall[]>;
  /** A function's parked spawned calls with their inputs, oldest first. */
  parkedCalls(functionId: string, limit: number): Promise<PendingCall[]>;
  /** Parks a pending call (it waits in the store) or takes it back into memory. */
  setParked(id: string, parked: boolean): void;
  /** Marks ended (done or cancelled) calls past their expiry as expired and drops their payloads; how many. */
  expireCalls(now: number): Promise<number>;
  /** Deletes up to `limit` expired calls whose expiry is at or before `before`, oldest first; how many. */
  forgetExpiredCalls(before: number, limit: number): Promise<number>;

  // running maps: a row each, so that a restarted server can take one back (map.resume)
  insertMapCall(row: MapCallRow): void;
  getMapCall(id: string): Promise<MapCallRow | undefined>;
  /** null while a server runs it; a time: dropped unless taken back by then. */
  setMapCallExpiry(id: string, expiresAt: number | null): void;
  /** At start: the maps a previous run left behind get until `expiresAt` to be taken back. */
  orphanMapCalls(expiresAt: number): void;
  /** Drops maps nobody took back in time; how many. */
  expireMapCalls(now: number): Promise<number>;

  // call graphs (spawned calls and calls made from inside an input)
  insertGraphInput(row: {
    inputId: string;
    callId: string;
    parentInputId: string | null;
    functionName: string;
    createdAt: number;
  }): void;
  updateGraphInput(inputId: string, taskId: string | null, status: GraphStatus): void;
  graphInputsOfCall(callId: string): Promise<GraphRow[]>;
  graphChildren(parentInputId: string): Promise<GraphRow[]>;
  trimGraph(before: number): void;

  // attempts of recorded inputs (the dashboard's timing per attempt)
  insertAttempt(row: {
    inputId: string;
    callId: string;
    attempt: number;
    containerId: string;
    queuedAt: number;
    startedAt: number;
    coldStartMs: number;
  }): void;
  endAttempt(inputId: string, attempt: number, status: string, endedAt: number): void;

  // dashboard reads
  /** A page of calls, newest first, filtered; the next page passes the last row as `before`. */
  listCalls(q: CallListQuery): Promise<CallListRow[]>;
  /** One call with its names and status, or undefined. */
  callSummary(id: string): Promise<CallListRow | undefined>;
  /** The arguments of a call's first input, while the call is kept. */
  callArgs(callId: string): Promise<Payload | undefined>;
  /** A call's recorded attempts, oldest first (at most `limit`). */
  callAttempts(callId: string, limit: number): Promise<AttemptRow[]>;
  /** Log lines, newest `limit` before `beforeSeq` (or after `afterSeq`), filtered, in seq order. */
  queryLogs(q: LogQuery): Promise<LogRow[]>;
  /** Called with the duration of each group commit (the store-commit metric). */
  setCommitObserver(observe: ((ms: number) => void) | undefined): void;

  // secrets
  upsertSecret(environment: string, name: string, values: Record<string, string>): void;
  getSecret(environment: string, name: string): Promise<Record<string, string> | undefined>;
  listSecrets(environment: string): Promise<{ name: string; keys: string[]; createdAt: number }[]>;
  /** False when there was no such secret. */
  deleteSecret(environment: string, name: string): Promise<boolean>;

  // logs (bounded per app)
  appendLogs(entries: LogEntry[]): void;
  tailLogs(appId: string, limit: number): Promise<LogEntry[]>;
  /** Keeps an app's newest `keepLines` lines, and of those no more than `keepBytes` bytes of text. */
  trimLogs(appId: string, keepLines: number, keepBytes: number): void;

  /** Dicts, Queues and Volumes (object-store.ts). */
  readonly objects: ObjectStore;

  /**
   * Resolves when every write issued before the call is durable.
   * @throws StoreCommitError when the commit covering them failed.
   */
  flush(): Promise<void>;
  /**
   * Makes this the one server of the store, until close: a store that several processes could
   * reach (Postgres) refuses a second server, whose recovery at start (running attempts,
   * queue leases) would take what the first one still holds. Optional: SQLite's data
   * directory is claimed by the server's control socket already.
   * @throws StoreOpenError naming the server that has it.
   */
  claimServer?(): Promise<void>;
  /** Commits what is queued and closes; later calls fail. */
  close(): Promise<void>;
}

export interface CallListQuery {
  appId?: string;
  functionId?: string;
  status?: string;
  /** created_at bounds, epoch ms: since inclusive, until exclusive. */
  since?: number;
  until?: number;
  /** The last row of the previous page. */
  before?: { createdAt: number; id: string };
  limit: number;
}

export interface CallListRow {
  id: string;
  functionId: string;
  appId: string | null;
  kind: "remote" | "spawn";
  status: string;
  method: string | null;
  createdAt: number;
  completedAt: number | null;
  functionName: string | null;
  appName: string | null;
}

export interface AttemptRow {
  inputId: string;
  attempt: number;
  containerId: string | null;
  queuedAt: number;
  startedAt: number | null;
  endedAt: number | null;
  coldStartMs: number;
  status: string;
}

export interface LogQuery {
  appId?: string;
  functionName?: string;
  inputId?: string;
  containerId?: string;
  afterSeq?: number;
  beforeSeq?: number;
  limit: number;
}

export interface LogRow extends LogEntry {
  seq: number;
}

/** A commit failed: the writes it covered are lost; the store goes on with later ones. */
export class StoreCommitError extends Error {
  constructor(cause: unknown) {
    super(
      `the store could not commit (${cause instanceof Error ? cause.message : String(cause)}): the change was not saved`,
      { cause },
    );
    this.name = "StoreCommitError";
  }
}

/** A read failed (the database is unreachable): nothing was changed; try again. */
export class StoreUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`the store cannot be read (${cause instanceof Error ? cause.message : String(cause)}): try again`, {
      cause,
    });
    this.name = "StoreUnavailableError";
  }
}

/** The store cannot be opened (bad URL, unreachable, wrong credentials, schema too new). */
export class StoreOpenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreOpenError";
  }
}

/** A pending call and its inputs, as recovery and paging take it back into memory. */
export interface PendingCall {
  row: CallRow;
  inputs: InputRow[];
}

export type GraphStatus = "pending" | "success" | "failure" | "init_failure" | "terminated" | "timeout";

export interface GraphRow {
  inputId: string;
  functionCallId: string;
  functionName: string;
  taskId: string | null;
  status: GraphStatus;
}

export interface TokenRow {
  id: string;
  secretHash: string;
  kind: Exclude<TokenKind, "container">;
  createdAt: number;
  /** Epoch ms after which the token is refused; null or absent: never. */
  expiresAt?: number | null;
  /** Epoch ms it was revoked at; null or absent: not revoked. */
  revokedAt?: number | null;
  /** Scope: the only environment the token reaches; null or absent: all. */
  environment?: string | null;
  /** Scope: a JSON array of the only app names it calls and deploys; null or absent: all. */
  apps?: string | null;
}

export interface EnvironmentRow {
  name: string;
  createdAt: number;
}

export interface AppRow {
  id: string;
  name: string;
  environment: string;
  mode: AppMode;
  state: AppState;
  version: number;
  createdAt: number;
  /** Ephemeral apps: the client session running them. */
  ownerSession: string | null;
}

export interface DeploymentRow {
  appId: string;
  version: number;
  bundleBlobId: string;
  functions: string[];
  createdAt: number;
}

export interface FunctionRow {
  id: string;
  appId: string;
  name: string;
  version: number;
  /** JSON of the FunctionSpec. */
  spec: string;
  bundleBlobId: string;
  active: boolean;
}

/** A running map: which function, for taking it back after a restart (see map.resume). */
export interface MapCallRow {
  id: string;
  functionId: string;
  method: string | null;
  parentInputId: string | null;
  idempotencyKey: string;
  createdAt: number;
  expiresAt: number | null;
}

export interface CallRow {
  id: string;
  functionId: string;
  kind: "remote" | "spawn";
  idempotencyKey: string | null;
  parentInputId: string | null;
  /** The method, for a call of a class instance. */
  method: string | null;
  createdAt: number;
  /** A spawned call waiting in the store, not in memory (see engine/spawn-pager.ts). */
  parked?: boolean;
  /** The app of its function (the dashboard's filter). */
  appId?: string;
}

export interface ClassInstanceRow {
  id: string;
  functionId: string;
  /** CBOR of the full parameter object. */
  params: Uint8Array;
  /** JSON of the option overrides. */
  options: string;
  createdAt: number;
}

export interface InputRow {
  id: string;
  callId: string;
  idx: number;
  args: Payload;
  state: "pending" | "done";
  attempt: number;
  failures: number;
}

export interface StoredCall {
  id: string;
  functionId: string;
  kind: "remote" | "spawn";
  parentInputId: string | null;
  state: "pending" | "done" | "cancelled" | "expired";
  outcome: CallOutcome | undefined;
  createdAt: number;
  expiresAt: number | null;
}
