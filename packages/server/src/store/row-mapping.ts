import { type CallOutcome, decodeCbor, encodeCbor, type LogEntry, type Payload } from "@skiff/protocol";
import { outcomeBlob, payloadBlob } from "./blob-refs.js";
import type { StoredValue } from "./object-store.js";
import type {
  CallRow,
  ClassInstanceRow,
  DeploymentRow,
  FunctionRow,
  InputRow,
  LogRow,
  PendingCall,
  StoredCall,
} from "./store.js";

// Rows to and from the two SQL stores' columns: both name their columns alike (sql/sqlite and
// sql/postgres), so one mapping serves both; only how a statement runs differs.

/** The list status of an ended call. */
export function statusOf(o: CallOutcome): string {
  if (o.kind === "cancelled") return "cancelled";
  if (o.kind === "expired") return "expired";
  return o.result.status;
}

/** The parameters of insertCall. */
export function callParams(row: CallRow) {
  return {
    id: row.id,
    functionId: row.functionId,
    appId: row.appId ?? null,
    kind: row.kind,
    idempotencyKey: row.idempotencyKey,
    parentInputId: row.parentInputId,
    method: row.method,
    parked: row.parked ? 1 : 0,
    createdAt: row.createdAt,
  };
}

/** The parameters of insertInput: args as CBOR, and the blob they name (for the sweeper). */
export function inputParams(i: InputRow) {
  return { id: i.id, callId: i.callId, idx: i.idx, args: encodeCbor(i.args), blobId: payloadBlob(i.args) };
}

/** The parameters of completeCall. */
export function completeParams(
  id: string,
  state: "done" | "cancelled",
  outcome: CallOutcome,
  completedAt: number,
  expiresAt: number | null,
) {
  return {
    id,
    state,
    status: statusOf(outcome),
    outcome: encodeCbor(outcome),
    blobId: outcomeBlob(outcome),
    completedAt,
    expiresAt,
  };
}

export type StoredCallColumns = Omit<StoredCall, "outcome"> & { outcome: Uint8Array | null };

export function toStoredCall(r: StoredCallColumns | undefined): StoredCall | undefined {
  if (!r) return undefined;
  return { ...r, outcome: r.outcome ? (decodeCbor(r.outcome) as CallOutcome) : undefined };
}

export type PendingCallColumns = Omit<CallRow, "parked"> & { parked: number };
export type InputColumns = Omit<InputRow, "args"> & { args: Uint8Array };

/** Pending calls with their inputs (inputs of other calls are ignored). */
export function toPendingCalls(rows: PendingCallColumns[], inputs: InputColumns[]): PendingCall[] {
  const byCall = new Map<string, InputRow[]>();
  for (const i of inputs) {
    let list = byCall.get(i.callId);
    if (!list) {
      list = [];
      byCall.set(i.callId, list);
    }
    list.push({ ...i, args: decodeCbor(i.args) as Payload });
  }
  return rows.map((r) => ({ row: { ...r, parked: Boolean(r.parked) }, inputs: byCall.get(r.id) ?? [] }));
}

export type DeploymentColumns = Omit<DeploymentRow, "functions"> & { functions: string };

export function toDeployment(r: DeploymentColumns): DeploymentRow {
  return { ...r, functions: JSON.parse(r.functions) as string[] };
}

export type FunctionColumns = Omit<FunctionRow, "active"> & { active: number };

export function toFunction(r: FunctionColumns): FunctionRow {
  return { ...r, active: Boolean(r.active) };
}

export type ClassInstanceColumns = Omit<ClassInstanceRow, "params"> & { params: Uint8Array };

export function toClassInstance(r: ClassInstanceColumns): ClassInstanceRow {
  return { ...r, params: new Uint8Array(r.params) };
}

export function toSecretSummary(r: { name: string; vals: string; createdAt: number }) {
  return { name: r.name, keys: Object.keys(JSON.parse(r.vals) as object), createdAt: r.createdAt };
}

/** The parameters of insertLog. */
export function logParams(e: LogEntry) {
  return {
    appId: e.appId,
    ts: e.ts,
    functionName: e.functionName ?? null,
    inputId: e.inputId ?? null,
    containerId: e.containerId ?? null,
    stream: e.stream,
    text: e.text,
  };
}

export type LogColumns = Omit<LogEntry, "functionName" | "inputId" | "containerId"> & {
  functionName: string | null;
  inputId: string | null;
  containerId: string | null;
};

/** A log line as the API shows it: absent tags left out, not null. */
export function toLogEntry(r: LogColumns): LogEntry {
  const e: LogEntry = { ts: r.ts, appId: r.appId, stream: r.stream, text: r.text };
  if (r.functionName) e.functionName = r.functionName;
  if (r.inputId) e.inputId = r.inputId;
  if (r.containerId) e.containerId = r.containerId;
  return e;
}

export function toLogRow(r: LogColumns & { seq: number }): LogRow {
  return { seq: r.seq, ...toLogEntry(r) };
}

// ---- objects ---------------------------------------------------------------------------

export type ValueColumns = { value: Uint8Array | null; valueBlob: string | null };

export const toBuffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** A Dict value from its columns: inline CBOR, or the blob that holds it. */
export function toStoredValue(r: ValueColumns): StoredValue {
  if (r.valueBlob) return { blob: r.valueBlob };
  const v = r.value ?? new Uint8Array(0);
  return { inline: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) };
}

/** The value columns of a Dict entry (a Buffer: better-sqlite3 binds only Buffers). */
export function valueParams(v: StoredValue): { value: Buffer | null; valueBlob: string | null } {
  return "blob" in v ? { value: null, valueBlob: v.blob } : { value: toBuffer(v.inline), valueBlob: null };
}
