import type { AppMode, AppState, CallOutcome, LogEntry, Payload, TokenKind } from "@skiff/protocol";

/**
 * The control plane's durable state. The engine and the API use only this interface and
 * never touch a database; SQLite (embedded) implements it now, Postgres later.
 *
 * Writes are buffered and group-committed: a write method returns at once, and `flush()`
 * resolves when everything written before it is durable. Callers that must not acknowledge
 * before durability (a `.spawn`) await `flush()`. Reads see committed state plus, in the
 * SQLite implementation, writes of the same process that are already applied.
 *
 * Deliberately absent: queueing and leases. Those live in memory in the engine, which
 * rebuilds them from `pendingCalls` at start.
 */
export interface Store {
  // tokens
  insertToken(row: TokenRow): void;
  getToken(id: string): TokenRow | undefined;
  countAdminTokens(): number;

  // blobs (content-addressed)
  putBlob(id: string, data: Uint8Array): void;
  getBlob(id: string): Uint8Array | undefined;

  // apps and deployments
  insertApp(row: AppRow): void;
  updateApp(id: string, state: AppState, version: number, stoppedAt?: number): void;
  getApp(id: string): AppRow | undefined;
  findDeployedApp(environment: string, name: string): AppRow | undefined;
  findLatestApp(environment: string, name: string): AppRow | undefined;
  listApps(environment: string, stoppedSince: number): AppRow[];
  liveApps(): AppRow[];
  insertDeployment(row: DeploymentRow): void;
  listDeployments(appId: string): DeploymentRow[];

  // functions (stable id per app and name across redeploys)
  upsertFunction(row: FunctionRow): void;
  deactivateFunctions(appId: string, belowVersion: number): void;
  getFunctionByName(appId: string, name: string): FunctionRow | undefined;
  appFunctions(appId: string): FunctionRow[];
  /** Instances (parameter sets, option variants) of a class; inserting a known id is a no-op. */
  insertClassInstance(row: ClassInstanceRow): void;
  getClassInstance(id: string): ClassInstanceRow | undefined;

  // calls and inputs
  insertCall(row: CallRow, inputs: InputRow[]): void;
  /**
   * Writes a held insert now (`.remote` calls are held in memory, and written only when
   * something about them must be stored), so that later writes about the call apply to it.
   */
  materialize(w: DeferredWrite): void;
  /** Drops a deferred insert not yet written; false when it already was. */
  cancelDeferred(w: DeferredWrite): boolean;
  updateInput(id: string, state: "pending" | "done", attempt: number, failures: number): void;
  completeCall(
    id: string,
    state: "done" | "cancelled",
    outcome: CallOutcome,
    completedAt: number,
    expiresAt: number | null,
  ): void;
  deleteCall(id: string): void;
  getCall(id: string): StoredCall | undefined;
  getCallByIdempotencyKey(key: string): StoredCall | undefined;
  /** Pending calls in id order, a page at a time (recovery at start). */
  pendingCalls(after: string, limit: number): CallRow[];
  /** A function's parked spawned calls, oldest first. */
  parkedCalls(functionId: string, limit: number): CallRow[];
  /** Parks a pending call (it waits in the store) or takes it back into memory. */
  setParked(id: string, parked: boolean): void;
  callInputs(callId: string): InputRow[];
  /** Marks done calls past their expiry as expired and drops their payloads. */
  expireCalls(now: number): number;

  // call graphs (spawned calls and calls made from inside an input)
  insertGraphInput(row: {
    inputId: string;
    callId: string;
    parentInputId: string | null;
    functionName: string;
    createdAt: number;
  }): void;
  updateGraphInput(inputId: string, taskId: string | null, status: GraphStatus): void;
  graphInputsOfCall(callId: string): GraphRow[];
  graphChildren(parentInputId: string): GraphRow[];
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

  // dashboard reads: async already (the store contract is becoming async as a whole)
  /** A page of calls, newest first, filtered; the next page passes the last row as `before`. */
  listCalls(q: CallListQuery): Promise<CallListRow[]>;
  /** One call with its names and status, or undefined. */
  callSummary(id: string): Promise<CallListRow | undefined>;
  /** A call's recorded attempts, oldest first (at most `limit`). */
  callAttempts(callId: string, limit: number): Promise<AttemptRow[]>;
  /** Log lines, newest `limit` before `beforeSeq` (or after `afterSeq`), filtered, in seq order. */
  queryLogs(q: LogQuery): Promise<LogRow[]>;
  /** Called with the duration of each group commit (the store-commit metric). */
  setCommitObserver(observe: ((ms: number) => void) | undefined): void;

  // secrets
  upsertSecret(environment: string, name: string, values: Record<string, string>): void;
  getSecret(environment: string, name: string): Record<string, string> | undefined;
  listSecrets(environment: string): { name: string; keys: string[]; createdAt: number }[];
  deleteSecret(environment: string, name: string): boolean;

  // logs (bounded per app)
  appendLogs(entries: LogEntry[]): void;
  tailLogs(appId: string, limit: number): LogEntry[];
  trimLogs(appId: string, keep: number): void;

  /** Resolves when every write issued before the call is durable. */
  flush(): Promise<void>;
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

export type GraphStatus = "pending" | "success" | "failure" | "init_failure" | "terminated" | "timeout";

export interface GraphRow {
  inputId: string;
  functionCallId: string;
  functionName: string;
  taskId: string | null;
  status: GraphStatus;
}

/** A call insert waiting for the next group commit. */
export interface DeferredWrite {
  readonly row: CallRow;
  readonly inputs: InputRow[];
  state: "pending" | "written" | "cancelled";
}

export interface TokenRow {
  id: string;
  secretHash: string;
  kind: Exclude<TokenKind, "container">;
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
