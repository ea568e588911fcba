/**
 * The read-only JSON API under `/v1/` (docs/dashboard.md): what the server answers and what the
 * dashboard reads. Plain JSON values only (no bigint, no Uint8Array); times are epoch
 * milliseconds, durations milliseconds.
 */

/** One minute of a function's activity (the last hour is 60 of these, oldest first). */
export interface MinutePoint {
  /** Start of the minute, epoch ms. */
  t: number;
  /** Inputs finished in that minute (any outcome). */
  calls: number;
  failures: number;
  coldStarts: number;
  /** Largest backlog seen in that minute. */
  backlog: number;
  /** Largest number of inputs running at once seen in that minute. */
  running: number;
}

export interface FunctionSnapshot {
  id: string;
  appId: string;
  appName: string;
  environment: string;
  name: string;
  version: number;
  /** A class instance's pool: the class's function id. */
  baseId?: string;
  isGenerator: boolean;
  webUrl?: string;
  /** Inputs waiting for a container (parked spawns included). */
  backlog: number;
  /** Inputs running now. */
  running: number;
  /** Containers starting or ready. */
  containers: number;
  /** Inputs finished in the last 60 s. */
  callsPerMinute: number;
  /** Over the last 1024 finished inputs; null before the first one. */
  p50Ms: number | null;
  p99Ms: number | null;
  /** Failed share of inputs finished in the last hour (0..1); null when none finished. */
  errorRate: number | null;
  /** Totals since the server started. */
  totals: { accepted: number; succeeded: number; failed: number; retried: number; coldStarts: number };
  /** The last hour, a point per minute, oldest first. */
  series: MinutePoint[];
}

export type ContainerState = "starting" | "ready" | "draining";

export interface ContainerSnapshot {
  id: string;
  functionId: string;
  functionName: string;
  appId: string;
  appName: string;
  state: ContainerState;
  /** The image key, or "host" for the host's own system. */
  image: string;
  /** "local" for this server's own provider, else the worker's name. */
  host: string;
  startedAt: number;
  /** When it became ready (null while starting): readyAt - startedAt is its cold start. */
  readyAt: number | null;
  uptimeMs: number;
  /** Inputs it is running now, and has finished. */
  running: number;
  inputsServed: number;
  /** CPU time used, ms, and resident memory, bytes; null where the host cannot tell. */
  cpuMs: number | null;
  memoryBytes: number | null;
}

export interface AppSummary {
  id: string;
  name: string;
  environment: string;
  mode: "ephemeral" | "deployed";
  state: "running" | "deployed" | "stopped";
  version: number;
  createdAt: number;
  functions: number;
}

export interface DeploymentSummary {
  version: number;
  createdAt: number;
  functions: string[];
}

export interface AppDetails extends AppSummary {
  deployments: DeploymentSummary[];
  functionIds: string[];
}

/** A call's status in lists: pending (queued or running) or how it ended. */
export type CallStatus =
  | "pending"
  | "success"
  | "failure"
  | "init_failure"
  | "timeout"
  | "terminated"
  | "cancelled"
  | "expired";

export const CALL_STATUSES: readonly CallStatus[] = [
  "pending",
  "success",
  "failure",
  "init_failure",
  "timeout",
  "terminated",
  "cancelled",
  "expired",
];

export interface CallSummary {
  id: string;
  functionId: string;
  functionName: string;
  appId: string;
  appName: string;
  kind: "remote" | "spawn";
  status: CallStatus;
  createdAt: number;
  completedAt: number | null;
}

export interface CallPage {
  calls: CallSummary[];
  /** Pass as `cursor` for the next (older) page; null at the end. */
  nextCursor: string | null;
}

/** A value shown in the dashboard: a JSON rendering cut to a preview size. */
export interface ValuePreview {
  /** JSON text of the value (CBOR types rendered as tagged JSON), at most `limit` characters. */
  text: string;
  truncated: boolean;
  /** Size of the encoded value, bytes. */
  bytes: number;
}

export interface ErrorDetails {
  name: string;
  message: string;
  /** The remote stack, cut to a preview size. */
  stack: string;
}

export interface AttemptInfo {
  inputId: string;
  attempt: number;
  containerId: string | null;
  /** When the input was queued for this attempt, handed to a container, and ended (epoch ms). */
  queuedAt: number;
  startedAt: number | null;
  endedAt: number | null;
  /** Time this attempt waited for a container to start (0 when one was warm). */
  coldStartMs: number;
  status: "running" | "success" | "failure" | "init_failure" | "timeout" | "terminated" | "lost" | "cancelled";
}

export interface GraphNode {
  inputId: string;
  functionCallId: string;
  functionName: string;
  taskId: string;
  status: string;
  children: GraphNode[];
}

export interface CallDetails extends CallSummary {
  args: ValuePreview | null;
  result: ValuePreview | null;
  error: ErrorDetails | null;
  /** Message of a timeout or termination. */
  message: string | null;
  attempts: AttemptInfo[];
  graph: GraphNode[];
}

export interface LogLine {
  /** Position in the log; `after` takes it to read what came later. */
  seq: number;
  ts: number;
  appId: string;
  functionName: string | null;
  inputId: string | null;
  containerId: string | null;
  stream: "stdout" | "stderr" | "system";
  /** The text, cut to a preview size. */
  text: string;
  truncated: boolean;
}

/** What `/v1/events` sends (server-sent events), one JSON object per `data:` line. */
export type DashboardEvent =
  | { type: "functions"; functions: FunctionSnapshot[] }
  | { type: "containers"; containers: ContainerSnapshot[] }
  | { type: "maps"; maps: MapProgress[] }
  | { type: "log"; line: LogLine };

/** A running map, as its progress shows. */
export interface MapProgress {
  callId: string;
  functionId: string;
  functionName: string;
  appName: string;
  done: number;
  failed: number;
  /** Known once the caller sent its last input. */
  total: number | null;
  inFlight: number;
  startedAt: number;
}

/** `GET /v1/session`: who is signed in, and the anti-forgery token writes must carry. */
export interface SessionInfo {
  tokenId: string;
  kind: string;
  csrfToken: string;
  expiresAt: number;
}

/** A named Dict, Queue or Volume, with its size where it is cheap to tell. */
export interface ObjectSummary {
  id: string;
  kind: "dict" | "queue" | "volume";
  name: string;
  environment: string;
  createdAt: number;
  /** Dict entries or queue items (all partitions); null for a volume. */
  size: number | null;
}

/** A page of a Dict's keys or one directory of a Volume. */
export interface ObjectEntries {
  entries: { name: string; type: "key" | "file" | "directory"; size: number | null }[];
  /** Dict keys: pass as `after` for the next page; null at the end. */
  next: string | null;
}
