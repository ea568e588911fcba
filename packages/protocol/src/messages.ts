/**
 * Every message on the wire, defined once. A frame is a CBOR array of messages; each
 * message is an object whose `t` names its type. Requests carry an `id` that the reply
 * echoes; events carry none. docs/protocol.md describes the same in prose.
 */

import type { ImageBuildEvent, ImageBuildStepResult, ImageLayerInfo, ImageWire } from "./images.js";
import type { ObjectEventMap, ObjectRequestMap, VolumeMountWire } from "./objects.js";
import type { PackedPayloads } from "./packed.js";
import type { WebSpec } from "./web.js";
import type { WorkerEventMap, WorkerRequestMap } from "./workers.js";

/** A payload travels inline (CBOR bytes) or, when large, as a blob-store reference. */
export type Payload = Uint8Array | { blob: string };

export interface RetryPolicyWire {
  maxRetries: number;
  backoffCoefficient: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

/** A function's options as the control plane sees them (defaults already applied). */
export interface FunctionOptionsWire {
  timeoutMs: number;
  retries: RetryPolicyWire;
  cpu?: number;
  memoryMiB?: number;
  gpu?: string;
  maxContainers: number;
  minContainers: number;
  bufferContainers: number;
  scaledownWindowMs: number;
  startupTimeoutMs: number;
  maxInputs: number;
  /** Run a container's inputs on worker threads; unset: threads for non-async functions. */
  threads?: boolean;
  env: Record<string, string>;
  blockNetwork: boolean;
  secretNames: string[];
  /** Values of `Secret.fromObject` secrets; stored with the function, never printed. */
  inlineSecrets: Record<string, string>;
  /** Volumes by mount path (absolute). */
  volumes?: Record<string, VolumeMountWire>;
  /** Runs on its own when the app is deployed. */
  schedule?: { kind: "cron"; expression: string; timezone?: string } | { kind: "period"; periodMs: number };
  /** The image the function runs in (api.md §1a); unset: the host's own system, read-only. */
  image?: ImageWire;
  /** Set by the control plane at publish: the key of the image's last layer. */
  imageKey?: string;
  /**
   * Dynamic batching (api.md §2): callers send single inputs; the server gathers up to
   * `maxBatchSize` of them and runs them as one call, when full or `waitMs` after the first.
   */
  batched?: BatchingWire;
}

export interface BatchingWire {
  /** 1 .. MAX_BATCH_SIZE. */
  maxBatchSize: number;
  /** 0 .. MAX_BATCH_WAIT_MS. */
  waitMs: number;
}

/** Modal's limits for dynamic batching, checked where a function is defined and again at deploy. */
export const MAX_BATCH_SIZE = 1000;
export const MAX_BATCH_WAIT_MS = 10 * 60_000;

/** What `updateAutoscaler` changes on a deployed function, live, until its next deploy. */
export const AUTOSCALER_KEYS = ["minContainers", "maxContainers", "bufferContainers", "scaledownWindowMs"] as const;
export type AutoscalerWire = Partial<Pick<FunctionOptionsWire, (typeof AUTOSCALER_KEYS)[number]>>;

export interface FunctionSpec {
  name: string;
  isGenerator: boolean;
  options: FunctionOptionsWire;
  /** Set for web endpoints (webEndpoint, fetchApp, nodeHttpApp). */
  web?: WebSpec;
  /** Set for a class (`@app.cls`): the function is the class, its inputs name a method. */
  cls?: ClassSpec;
  /** Set by the server when `updateAutoscaler` changed the scaling options (epoch ms). */
  autoscalerUpdatedAt?: number;
}

/** A value of a class parameter (api.md §3). */
export type ParamValue = string | number | boolean | bigint;

export interface ParamSpec {
  name: string;
  /** From the field's default; "any" when the field has none (the parameter is then required). */
  type: "string" | "number" | "boolean" | "bigint" | "any";
  /** The default (a bigint's as a decimal string, since specs are stored as JSON). */
  default?: string | number | boolean;
}

export interface MethodSpec {
  name: string;
  isGenerator: boolean;
}

/** A class's shape, recorded at deploy by constructing it once. */
export interface ClassSpec {
  methods: MethodSpec[];
  params: ParamSpec[];
}

/**
 * Options a variant (`withOptions` / `withConcurrency` / `withBatching`, of a class or a
 * function) may change; the rest are the definition's own. The one list both sides check against.
 */
export const OPTION_OVERRIDE_KEYS = [
  "timeoutMs",
  "retries",
  "cpu",
  "memoryMiB",
  "gpu",
  "maxContainers",
  "minContainers",
  "bufferContainers",
  "scaledownWindowMs",
  "startupTimeoutMs",
  "maxInputs",
  "threads",
  "env",
  "secretNames",
  "inlineSecrets",
  "batched",
] as const satisfies readonly (keyof FunctionOptionsWire)[];

export type OptionsOverrideWire = Partial<Pick<FunctionOptionsWire, (typeof OPTION_OVERRIDE_KEYS)[number]>>;

export interface FunctionInfo {
  functionId: string;
  appId: string;
  appName: string;
  name: string;
  isGenerator: boolean;
  /** Web endpoints: the URL the gateway serves it at. */
  webUrl?: string;
  /** Set for a class: its methods and parameters. */
  cls?: ClassSpec;
  /** Set for a batched function (or a class whose method is batched). */
  batched?: BatchingWire;
}

/** A function's live scaling settings and pool, as `skiff app show` prints them. */
export interface FunctionSummary {
  functionId: string;
  name: string;
  kind: "function" | "class" | "web" | "generator";
  minContainers: number;
  maxContainers: number;
  bufferContainers: number;
  scaledownWindowMs: number;
  maxInputs: number;
  batched?: BatchingWire;
  /** Set when `updateAutoscaler` changed the deployed values. */
  autoscalerUpdatedAt?: number;
  /** Containers started or starting, and inputs waiting. */
  containers: number;
  backlog: number;
}

/** One input in a call graph (api.md §6), with the calls made while it ran. */
export interface InputInfo {
  inputId: string;
  functionCallId: string;
  functionName: string;
  /** The container that ran it ("" while it waits). */
  taskId: string;
  status: "pending" | "success" | "failure" | "init_failure" | "terminated" | "timeout";
  children: InputInfo[];
}

/** Live numbers of one function (api.md §2 getCurrentStats). */
export interface FunctionStats {
  /** Inputs waiting for a container. */
  backlog: number;
  /** Containers running at least one input. */
  numActiveRunners: number;
  /** Containers started or starting. */
  numTotalRunners: number;
}

export type AppMode = "ephemeral" | "deployed";
export type AppState = "running" | "deployed" | "stopped";

export interface AppInfo {
  appId: string;
  name: string;
  environment: string;
  mode: AppMode;
  state: AppState;
  version: number;
  createdAt: number;
  functions: string[];
}

export interface DeploymentInfo {
  version: number;
  appId: string;
  bundleBlobId: string;
  createdAt: number;
  functions: string[];
}

export interface LogEntry {
  ts: number;
  appId: string;
  functionName?: string;
  inputId?: string;
  containerId?: string;
  stream: "stdout" | "stderr" | "system";
  text: string;
}

/** How one input ended. `error` is a CBOR-encoded Error. */
export type ResultWire =
  | { status: "success"; data: Payload }
  | { status: "failure"; error: Payload }
  | { status: "init_failure"; error: Payload }
  | { status: "timeout"; message: string }
  | { status: "terminated"; message: string };

/** What a caller gets back for a call: a result, or why there is none. */
export type CallOutcome = { kind: "result"; result: ResultWire } | { kind: "cancelled" } | { kind: "expired" };

export type TokenKind = "admin" | "api" | "web" | "container" | "worker";

/** Error codes a reply can carry; the SDK maps each to an error class in one place. */
export type ErrorCode =
  | "invalid_argument"
  | "not_found"
  | "unauthenticated"
  | "permission_denied"
  | "already_exists"
  | "failed_precondition"
  | "timeout"
  | "cancelled"
  | "expired"
  | "unsupported"
  | "protocol"
  | "unavailable"
  | "internal";

export interface WireErrorBody {
  code: ErrorCode;
  message: string;
}

/** A running container (`skiff container list`). */
export interface ContainerInfo {
  containerId: string;
  appId: string;
  appName: string;
  functionId: string;
  functionName: string;
  /** Where it runs: the worker provider and host. */
  host: string;
  /** "shell": started for `skiff shell`, takes no inputs. */
  state: "starting" | "ready" | "draining" | "shell";
  startedAt: number;
  /** Inputs it is running now. */
  inputs: number;
}

/** How a command runs in a container (`skiff container exec`, `skiff shell`). */
export interface ExecSpec {
  /** The program and its arguments; run as is, no shell unless it names one. */
  argv: string[];
  /** Give it a pseudo-terminal (an interactive shell): line editing, Ctrl-C, window size. */
  tty: boolean;
  rows?: number;
  cols?: number;
  /** The caller's TERM, for a terminal. */
  term?: string;
}

/** Bytes of exec output (or input) in flight before the sender waits for an exec.ack. */
export const EXEC_WINDOW_BYTES = 256 * 1024;

/** Requests: name -> [params, result]. */
export interface RequestMap extends ObjectRequestMap, WorkerRequestMap {
  hello: [
    {
      v: number;
      tokenId: string;
      tokenSecret: string;
      role: "client" | "container" | "worker";
      containerId?: string;
      /** Stable per client instance across reconnects; ephemeral apps belong to it. */
      sessionId?: string;
      /** The version of hot-path tuples (hot.ts) this peer reads and writes; absent: none. */
      hot?: number;
    },
    {
      serverVersion: string;
      limits: { maxPayloadBytes: number; inlinePayloadBytes: number };
      /**
       * Idempotency keys made as this prefix + n (n counting up from 1) on this connection are
       * known to the server as never sent before: it need not look them up in its store.
       */
      keyPrefix?: string;
      /** The version of hot-path tuples (hot.ts) both sides use from now on; absent: none. */
      hot?: number;
    },
  ];
  /** A whole blob of up to BLOB_PART_BYTES, or (with uploadId) the last part of an upload. */
  "blob.put": [{ data: Uint8Array; uploadId?: string }, { blobId: string }];
  /** A part of a larger blob, in order: `offset` is the bytes sent before it. */
  "blob.append": [{ uploadId: string; offset: number; data: Uint8Array }, Record<string, never>];
  /** Up to BLOB_PART_BYTES of a blob from `offset`, and the blob's whole size. */
  "blob.get": [{ blobId: string; offset?: number; length?: number }, { data: Uint8Array; size: number }];
  "app.publish": [
    {
      name: string;
      environment: string;
      mode: AppMode;
      bundleBlobId: string;
      functions: FunctionSpec[];
    },
    {
      appId: string;
      version: number;
      functions: FunctionInfo[];
      /** What the deploy noticed but did not refuse (a GPU no connected worker has). */
      warnings?: string[];
    },
  ];
  "app.stop": [{ appId?: string; name?: string; environment: string }, { appId: string }];
  "app.list": [{ environment: string }, { apps: AppInfo[] }];
  "app.history": [{ name: string; environment: string }, { deployments: DeploymentInfo[] }];
  "app.logs": [
    { appId?: string; name?: string; environment: string; tail: number; follow: boolean },
    { entries: LogEntry[]; subscriptionId?: string },
  ];
  "logs.unsubscribe": [{ subscriptionId: string }, Record<string, never>];
  "function.stats": [{ functionId: string }, FunctionStats];
  "function.lookup": [{ appName: string; name: string; environment: string }, FunctionInfo];
  /** A function by its id (`Function_.fromId`): not_found once its app stopped or a deploy dropped it. */
  "function.get": [{ functionId: string }, FunctionInfo];
  /**
   * Changes a deployed function's scaling at once, until its next deploy. Returns the
   * settings now in force.
   */
  "function.updateAutoscaler": [{ functionId: string; settings: AutoscalerWire }, Required<AutoscalerWire>];
  /** An app's functions with their live settings (`skiff app show`). */
  "app.show": [{ name: string; environment: string }, { app: AppInfo; functions: FunctionSummary[] }];
  /**
   * An instance of a class: its parameter set (checked against the class's schema, defaults
   * filled in) and option overrides pick a pool of containers of its own. Same parameters and
   * options, same pool. Returns the instance's function id, used by calls like any other.
   */
  "function.bind": [
    { functionId: string; params: Record<string, ParamValue>; options?: OptionsOverrideWire },
    FunctionInfo,
  ];
  "call.create": [
    {
      functionId: string;
      kind: "remote" | "spawn";
      args: Payload;
      idempotencyKey: string;
      parentInputId?: string;
      /** The method, for a class instance. */
      method?: string;
      /** Reply only when the call has an outcome (one round trip for `.remote`). */
      await: boolean;
    },
    { callId: string; outcome?: CallOutcome },
  ];
  /** Starts a fan-out call; inputs follow with map.put, results come back as map.outputs events. */
  "map.start": [
    {
      functionId: string;
      idempotencyKey: string;
      parentInputId?: string;
      method?: string;
      /** The client reads successful outputs as columns (`map.outputs` idxs and data). */
      columns?: boolean;
      /** The client reads `map.outputs` data packed (packed.ts) too. */
      packed?: boolean;
    },
    {
      callId: string;
      /** Most inputs the client may have outstanding (sent, no output yet). */
      window: number;
      /** The server takes map.put's inputs as columns (idxs and args). */
      columns?: boolean;
      /** The server takes map.put's args packed (packed.ts) too. */
      packed?: boolean;
    },
  ];
  /**
   * Takes a map back after the connection that ran it dropped (or the server restarted): its
   * outputs come to this connection from now on. The client then sends again every input it has
   * no output for (the server skips those it still has) and map.end if it had sent it.
   */
  "map.resume": [
    { callId: string; columns?: boolean; packed?: boolean },
    { window: number; columns?: boolean; packed?: boolean },
  ];
  /**
   * Inputs of a map: as `items`, or as columns (where map.start's reply said `columns`): input
   * i is `idxs[i]` with `args[i]`, with no object per input to encode and decode.
   */
  "map.put": [
    { callId: string; items?: MapInputWire[]; idxs?: number[]; args?: Payload[] | PackedPayloads },
    Record<string, never>,
  ];
  /** No more inputs: `total` were sent. */
  "map.end": [{ callId: string; total: number }, Record<string, never>];
  /** Starts a generator call; its items come back as gen.items events, acknowledged with gen.ack. */
  "gen.start": [
    { functionId: string; args: Payload; idempotencyKey: string; parentInputId?: string; method?: string },
    { callId: string /** Most items in flight (sent, not acknowledged). */; window: number },
  ];
  "call.get": [{ callId: string; timeoutMs?: number }, { outcome: CallOutcome }];
  "call.graph": [{ callId: string }, { inputs: InputInfo[] }];
  "call.cancel": [{ callId: string; terminateContainers: boolean }, Record<string, never>];
  "secret.create": [
    { name: string; environment: string; values: Record<string, string>; overwrite: boolean },
    Record<string, never>,
  ];
  "secret.list": [{ environment: string }, { secrets: { name: string; keys: string[]; createdAt: number }[] }];
  "secret.delete": [{ name: string; environment: string }, Record<string, never>];
  /**
   * `expiresInMs`: the token is refused that long after now (absent: never expires). A worker
   * token may only join as a worker (`skiff worker`).
   */
  "token.create": [
    {
      kind: "api" | "web" | "worker";
      expiresInMs?: number;
      /** Scope (api tokens): the only environment the token reaches. */
      environment?: string;
      /**
       * Scope (api tokens): the only apps it calls and deploys, in its environment ("main"
       * unless `environment`); it reads that environment's named objects but writes none.
       */
      apps?: string[];
    },
    { tokenId: string; tokenSecret: string },
  ];
  "token.list": [
    Record<string, never>,
    {
      tokens: {
        tokenId: string;
        kind: TokenKind;
        createdAt: number;
        expiresAt: number | null;
        revokedAt: number | null;
        /** Its scope: null where it reaches every environment / every app. */
        environment: string | null;
        apps: string[] | null;
      }[];
    },
  ];
  /** Refused from now on; connections using it are closed (4401). */
  "token.revoke": [{ tokenId: string }, Record<string, never>];
  /** Environments (admin and unscoped tokens): apps, secrets and named objects live in one. */
  "environment.create": [{ name: string }, Record<string, never>];
  "environment.list": [Record<string, never>, { environments: { name: string; createdAt: number }[] }];
  /** Refused while the environment holds running apps, objects or secrets, and for "main". */
  "environment.delete": [{ name: string }, Record<string, never>];
  /**
   * Builds what is missing of an image; progress comes as image.progress events carrying
   * `buildId`. Fails with the failing step's output and exit status.
   */
  "image.build": [{ image: ImageWire; buildId: string }, { key: string; steps: ImageBuildStepResult[] }];
  "image.list": [Record<string, never>, { layers: ImageLayerInfo[]; bytes: number; limitBytes: number }];
  /** Removes every layer no live app uses. */
  "image.prune": [Record<string, never>, { removed: number; bytes: number }];
  /** The URL a web endpoint function is served at. */
  "web.url": [{ functionId: string }, { url: string }];
  /** Running containers of the environment's apps. */
  "container.list": [{ environment: string }, { containers: ContainerInfo[] }];
  /** A running container's recent log lines; `follow` streams new ones as `log` events. */
  "container.logs": [
    { containerId: string; tail: number; follow: boolean },
    { entries: LogEntry[]; subscriptionId?: string },
  ];
  /**
   * Runs a command in a running container; its output comes back as exec.output events and its
   * end as exec.exit. The exec belongs to this connection: it is killed if the connection closes.
   */
  "container.exec": [{ containerId: string } & ExecSpec, { execId: string }];
  /**
   * Starts a new container of a function (its image, env, secrets, volumes) that takes no
   * inputs, runs the command in it (a shell by default), and removes it when the command ends.
   */
  "shell.open": [
    { functionId: string } & Partial<ExecSpec> & { tty: boolean },
    { execId: string; containerId: string },
  ];
}

export type RequestName = keyof RequestMap;
export type RequestParams<N extends RequestName> = RequestMap[N][0];
export type RequestResult<N extends RequestName> = RequestMap[N][1];

export interface RequestMessage<N extends RequestName = RequestName> {
  t: N;
  id: number;
  p: RequestParams<N>;
}

export type ReplyMessage =
  | { t: "reply"; id: number; ok: true; r: unknown }
  | { t: "reply"; id: number; ok: false; error: WireErrorBody };

/** One input of a map: its position and its argument list. */
export interface MapInputWire {
  idx: number;
  args: Payload;
}

/** One result of a map, by input position. */
export interface MapOutputWire {
  idx: number;
  result: ResultWire;
}

/** One input handed to a container. */
export interface InputWire {
  inputId: string;
  callId: string;
  attempt: number;
  args: Payload;
  timeoutMs: number;
  /** The method to run, for a class. */
  method?: string;
  /**
   * Inputs of a batched function handed out together share a batch id, and arrive in one
   * `inputs` event: the container runs them as one call and answers each with its own output.
   */
  batchId?: string;
  /**
   * This attempt's hand-out number in its container (counted up by the server per container),
   * sent back with its output: the server finds the attempt by it, with no string key.
   */
  seq?: number;
}

/**
 * Inputs of one call handed to a container together, as columns (`inputs.cols`): at map
 * rates, the keys of an object per input were most of what the frame cost to encode and
 * decode, on both sides. Entry i of each array is input i; they are started in this order.
 */
export interface InputColumnsWire {
  callId: string;
  timeoutMs: number;
  method?: string;
  /** The hand-out number (InputWire.seq) of the first; the others follow it one by one. */
  seq0: number;
  inputIds: string[];
  attempts: number[];
  /** Each one's arguments: packed when all are inline (packed.ts). */
  args: Payload[] | PackedPayloads;
}

/** Successful outputs as columns (`outputs.cols`): entry i of each array is output i. */
export interface OutputColumnsWire {
  /** The hand-out numbers (InputWire.seq) of the attempts answered. */
  seqs: number[];
  /** Each one's result data (a success): packed when all are inline (packed.ts). */
  data: Payload[] | PackedPayloads;
  durationsMs: number[];
}

export interface OutputWire {
  inputId: string;
  attempt: number;
  /** Its InputWire.seq. */
  seq?: number;
  result: ResultWire;
  durationMs: number;
}

export interface LogWire {
  inputId?: string;
  stream: "stdout" | "stderr";
  text: string;
  ts: number;
}

/** Events: name -> body. No reply. */
export interface EventMap extends ObjectEventMap, WorkerEventMap {
  /** server -> container: what to load, sent once after hello. */
  "container.assign": {
    appId: string;
    appName: string;
    functionId: string;
    functionName: string;
    /**
     * Absent where the runtime had the bundle with its assignment (`bundleBlobId`): a container
     * on a remote worker, or a small bundle the control plane handed over (loading already).
     */
    bundle?: Uint8Array;
    /** The bundle's content id (`bl-<sha256>`). */
    bundleBlobId?: string;
    maxInputs: number;
    threads?: boolean;
    /** Every function of the app, so calls between them need no lookup. */
    appFunctions: FunctionInfo[];
    /** For a class instance: its parameters (CBOR of an object), set before `@enter` runs. */
    params?: Uint8Array;
    /** A container for `skiff shell`: load nothing, run no inputs, only commands. */
    shell?: boolean;
    /** Volumes mounted read-write: committed when the container exits cleanly. */
    volumes?: { objectId: string; mountPath: string }[];
  };
  /** container -> server: the bundle loaded and the function was found. */
  "container.ready": Record<string, never>;
  /** container -> server: loading failed; the container will exit. */
  "container.init_failed": { error: Uint8Array };
  /** server -> container: run these. */
  inputs: { items: InputWire[] };
  /** server -> container: run these, in order (the same as `inputs`, as columns per call). */
  "inputs.cols": { groups: InputColumnsWire[] };
  /** container -> server: these finished. */
  outputs: { items: OutputWire[] };
  /** container -> server: these succeeded (the same as `outputs`, as columns). */
  "outputs.cols": OutputColumnsWire;
  /** container -> server: captured stdout/stderr lines. */
  logs: { items: LogWire[] };
  /** server -> container: abort these inputs (their signal fires). */
  cancel: { inputIds: string[]; reason: "cancelled" | "timeout" };
  /**
   * server -> container: give back these inputs if they have not started (they were handed out
   * ahead of a free slot and wait behind a slow input, while another container is idle).
   */
  "inputs.revoke": { inputIds: string[] };
  /** container -> server: these inputs of an `inputs.revoke` had not started and never will here. */
  "inputs.returned": { items: { inputId: string; attempt: number }[] };
  /** server -> container: finish what is running, run `@exit` hooks, then exit, all within graceMs. */
  shutdown: { graceMs: number };
  /** container -> server: items a generator yielded, in order. */
  "gen.items": { inputId: string; attempt: number; items: Payload[] };
  /**
   * container -> server: a web request's whole answer (hot.ts version 2 and later): the
   * generator call handed out as `seq` yielded `item` (an inline payload) and then ended with
   * success; the same as `gen.items` with that one item followed by its output.
   */
  "web.answer": { seq: number; item: Uint8Array; durationMs: number };
  /** server -> client: items of a generator call, in order; `end` once it is over. */
  "gen.stream": { callId: string; items: Payload[]; end?: ResultWire };
  /** client -> server, server -> container: `consumed` more items were taken by the consumer. */
  "gen.ack": { callId?: string; inputId?: string; consumed: number };
  /** server -> client: results of a map, as they finish (any order). */
  "map.outputs": {
    callId: string;
    items: MapOutputWire[];
    /** For a client that asked for columns: successes, output i being `idxs[i]` with data `data[i]`. */
    idxs?: number[];
    /** Packed (packed.ts) when all are inline and the client said it reads them so. */
    data?: Payload[] | PackedPayloads;
  };
  /** server -> client: progress of an image.build this client asked for. */
  "image.progress": ImageBuildEvent;
  /** server -> client: a log line of a followed app. */
  log: { subscriptionId: string; entry: LogEntry };
  /** container -> server: the web call's handler may take `bytes` more request-body bytes. */
  "web.body.pull": { callId: string; inputId: string; bytes: number };
  /** server -> container: request-body chunks of a web call; `end` after the last, `error` if it broke. */
  "web.body": { inputId: string; chunks: Uint8Array[]; end?: boolean; error?: string };
  /** server -> container: run a command (container.exec, shell.open). */
  "exec.start": { execId: string } & ExecSpec;
  /** container -> server -> client: the command's output. */
  "exec.output": { execId: string; stream: "stdout" | "stderr"; data: Uint8Array };
  /** container -> server -> client: the command ended (code, or the signal that ended it, or why it could not run). */
  "exec.exit": { execId: string; code: number | null; signal?: string; error?: string };
  /** client -> server -> container: input for the command; `eof` closes its stdin. */
  "exec.input": { execId: string; data?: Uint8Array; eof?: boolean };
  /** client -> server -> container: the terminal's new size. */
  "exec.resize": { execId: string; rows: number; cols: number };
  /** both ways: `bytes` of output (or input) were taken; the sender may send that much more. */
  "exec.ack": { execId: string; bytes: number };
  /** client -> server -> container: stop the command (its process group gets SIGKILL). */
  "exec.kill": { execId: string };
}

export type EventName = keyof EventMap;

export interface EventMessage<N extends EventName = EventName> {
  t: N;
  b: EventMap[N];
}

export type Message = RequestMessage | ReplyMessage | EventMessage;
