import type { AppMode, AppState, CallOutcome, LogEntry, Payload, TokenKind } from "@skiff/protocol";
import type { ObjectStore } from "./object-store.js";

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

  // secrets
  upsertSecret(environment: string, name: string, values: Record<string, string>): void;
  getSecret(environment: string, name: string): Record<string, string> | undefined;
  listSecrets(environment: string): { name: string; keys: string[]; createdAt: number }[];
  deleteSecret(environment: string, name: string): boolean;

  // logs (bounded per app)
  appendLogs(entries: LogEntry[]): void;
  tailLogs(appId: string, limit: number): LogEntry[];
  trimLogs(appId: string, keep: number): void;

  /** Dicts, Queues and Volumes (object-store.ts). */
  readonly objects: ObjectStore;

  /** Resolves when every write issued before the call is durable. */
  flush(): Promise<void>;
  close(): Promise<void>;
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
