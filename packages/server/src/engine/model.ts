import type {
  CallOutcome,
  EventMap,
  EventName,
  FunctionSpec,
  MapOutputWire,
  Payload,
  ResultWire,
} from "@skiff/protocol";
import type { ContainerHandle } from "../provider.js";
import type { CallRow, InputRow } from "../store/store.js";
import type { Deque } from "./deque.js";
import type { VolumeMount } from "./fleet.js";
import type { FunctionStats } from "./observe/function-stats.js";
import type { RunTimes } from "./run-times.js";

/** What the engine needs from a container's connection. */
export interface ContainerChannel {
  send<N extends EventName>(name: N, body: EventMap[N]): void;
  close(code: number, reason: string): void;
}

export interface LiveFunction {
  id: string;
  appId: string;
  appName: string;
  environment: string;
  name: string;
  version: number;
  spec: FunctionSpec;
  bundleBlobId: string;
  queue: Deque<LiveInput>;
  containers: Map<string, LiveContainer>;
  /** Start failures in a row (init errors, crashes before ready); drives backoff. */
  startFailures: number;
  nextStartAt: number;
  retryScaleTimer: NodeJS.Timeout | undefined;
  /** False once the app stopped or a redeploy dropped the function. */
  live: boolean;
  /** Typical run time of its inputs (run-times.ts), NaN until one finished: short ones are prefetched. */
  avgDurationMs: number;
  /** The run times avgDurationMs is made from. */
  runTimes: RunTimes;
  /**
   * Hand-out to output, less the run time, of inputs that started at once (moving average, NaN
   * until measured): how long a container waits for its next input without prefetch.
   */
  turnaroundMs: number;
  /**
   * Start to ready of its containers (moving average, NaN until one was ready): how long a new
   * one takes to take inputs here, under this host's load (scale-need.ts).
   */
  startLatencyMs: number;
  /** Wakes dispatch when an input waiting in a busy container has waited long enough to be taken back. */
  reclaimTimer: NodeJS.Timeout | undefined;
  /** Live calls of this function, and since when it has had none (idle class instances are let go). */
  activeCalls: number;
  idleSince: number;
  /** Pending spawned calls in memory, and those waiting in the store (engine/spawn-pager.ts). */
  residentSpawns: number;
  parked: number;
  pageInScheduled: boolean;
  /** A class instance's own pool: the class's function id, and the parameters (CBOR). */
  baseId: string | undefined;
  params: Uint8Array | undefined;
  /** Live numbers for the dashboard and /metrics (bounded rings and counters). */
  stats: FunctionStats;
}

/** What callers outside the engine (gateway, API, app service) may read of a function. */
export type FunctionView = Readonly<
  Pick<
    LiveFunction,
    "id" | "appId" | "appName" | "environment" | "name" | "version" | "spec" | "live" | "baseId" | "bundleBlobId"
  >
>;

/**
 * What callers outside the engine (container rules, exec relay) may read of a container: who
 * it runs, and its channel to relay a command's messages. Its inputs are the engine's.
 */
export type ContainerView = Readonly<
  Pick<LiveContainer, "id" | "status" | "channel" | "startedAt" | "reserved" | "host"> & {
    fn: FunctionView;
    running: { readonly size: number };
  }
>;

export type ContainerStatus = "starting" | "ready" | "draining" | "dead";

/** One attempt running on a container. Kept until the container answers or dies. */
export interface RunningAttempt {
  input: LiveInput;
  attempt: number;
  /** Its hand-out number in its container: the key of `running`, sent back with its output. */
  seq: number;
  /** The attempt timed out; its slot stays taken until the container answers or is replaced. */
  timedOut: boolean;
  /**
   * When it times out (epoch ms); a generator's moves later by the time it spent paused for its
   * consumer (engine.ts deadlineOf). Infinity while it waits in the container (prefetched):
   * its clock starts with its slot.
   */
  deadline: number;
  /**
   * When it took a slot in its container (epoch ms): at hand-out into a free slot, or, for one
   * that waited there, when the output before it came. Infinity while it waits.
   */
  slotAt: number;
  killTimer: NodeJS.Timeout | undefined;
  /**
   * Handed out beyond the container's free slots (prefetch): it waits in the container, in
   * order, until a slot frees. The server's view: it starts when an earlier one's output comes.
   */
  queued: boolean;
  /** `performance.now()` when it was handed out into a free slot (turnaround measure); NaN if queued. */
  sentAt: number;
}

export interface LiveContainer {
  id: string;
  fn: LiveFunction;
  version: number;
  status: ContainerStatus;
  handle: ContainerHandle | undefined;
  channel: ContainerChannel | undefined;
  /** Attempts handed to it and not answered, by hand-out number (RunningAttempt.seq). */
  running: Map<number, RunningAttempt>;
  /** The next hand-out number (InputWire.seq). */
  nextSeq: number;
  idleSince: number;
  startedAt: number;
  /** When it became ready (0 while starting). */
  readyAt: number;
  /** Inputs it has finished. */
  inputsServed: number;
  startupTimer: NodeJS.Timeout | undefined;
  stopTimer: NodeJS.Timeout | undefined;
  /**
   * One timer per container for its inputs' timeouts (a timer per input costs more than the
   * input at high rates): armed for the earliest deadline, it times out what is due and re-arms.
   */
  deadlineTimer: NodeJS.Timeout | undefined;
  deadlineAt: number;
  exitInfo: string | undefined;
  /** Stopped by the engine (scale-down, redeploy): its end is not a start failure. */
  stoppedOnPurpose: boolean;
  /** Started for `skiff shell`: takes no inputs, is not counted by scaling, goes when the shell ends. */
  reserved: boolean;
  /** Holds one of the fleet's start slots until it is ready or gone (fleet.ts startSlots). */
  countedStarting?: boolean;
  /** Volumes it mounts (local copies), once prepared. */
  mounts?: VolumeMount[];
  /** Where it was placed: "local" or a worker's name (unset until placed). */
  host?: string;
  /** Entries of `running` that wait in it for a slot (prefetched), and their argument bytes. */
  queued: number;
  queuedBytes: number;
  /**
   * Inputs waiting in it were taken back (they waited too long behind a slow one): it gets no
   * more ahead of its slots until one of its slots turns over.
   */
  prefetchPaused: boolean;
}

export type InputStatus = "pending" | "running" | "retry_wait" | "done";

export interface LiveInput {
  id: string;
  call: LiveCall;
  idx: number;
  args: Payload;
  /** Attempts handed out so far; the next hand-out is attempt + 1. */
  attempt: number;
  /** Failed attempts (thrown error, timeout): these use up retries. */
  failures: number;
  /** Containers lost while running this input: these do not use up retries. */
  lost: number;
  status: InputStatus;
  /** Recorded in the call graph (spawned, or called from inside an input). */
  graph: boolean;
  container: LiveContainer | undefined;
  startedAt: number;
  /**
   * When it last entered the queue: the queue-wait histogram and its attempt's timing, and a
   * batch leaves once its oldest input waited `waitMs`.
   */
  queuedAt: number;
  /** Its current attempt is recorded in the store and not yet ended (graph inputs only). */
  attemptOpen: boolean;
  /** The hand-out number of its current attempt in `container` (RunningAttempt.seq). */
  seq: number;
}

export interface LiveCall {
  id: string;
  fn: LiveFunction;
  kind: "remote" | "spawn";
  idempotencyKey: string | null;
  parentInputId: string | null;
  /** The method run, for a class instance. */
  method: string | undefined;
  createdAt: number;
  inputs: LiveInput[];
  outcome: CallOutcome | undefined;
  /** Waits for its outcome (`awaitCall`); made on the first (a map's or a spawn's call may have none). */
  waiters: Set<(outcome: CallOutcome) => void> | undefined;
  /**
   * Set for `.remote` calls: their insert is held in memory and written only when something
   * about the call must be stored (a retry's state, a result its caller left behind); its rows
   * are made then (createdRows).
   */
  deferred: DeferredInsert | undefined;
  /** Set for fan-out calls (`map`): inputs stream in, results stream out. */
  map: MapState | undefined;
  /** Set for generator calls: items stream out to the caller as they are yielded. */
  stream: StreamState | undefined;
}

export interface StreamState {
  sink: (items: Payload[], end?: ResultWire) => void;
  /** Items forwarded so far; once above zero the call is not retried. */
  yielded: number;
  /** Items the caller has consumed. */
  acked: number;
  /** Since when the generator waits for the caller (a full window), or 0. */
  pausedSince: number;
  /** Time spent waiting for the caller so far: it does not count toward timeoutMs. */
  pausedMs: number;
}

export interface MapState {
  /** Inputs sent and not finished, by index; at most `window`. */
  live: Map<number, LiveInput>;
  window: number;
  /** Inputs finished so far, and how many of them failed. */
  done: number;
  failed: number;
  /** Set by map.end: how many inputs there are in all. */
  total: number | undefined;
  /** Results not yet handed to the sink (flushed once per tick). */
  out: MapOutputWire[];
  flushScheduled: boolean;
  sink: (items: MapOutputWire[]) => void;
  /** Called once when the map is over (all results out, or cancelled). */
  onDone: () => void;
  /**
   * Set while no connection holds the map (its caller's connection dropped): results are kept
   * in `out` (at most one window) for map.resume, and the map is cancelled when this fires.
   */
  detached: NodeJS.Timeout | undefined;
}

/** A `.remote` call's insert, held in memory: written on demand, dropped once delivered. */
export type DeferredInsert = "held" | "written" | "dropped";

/**
 * The rows a call made by `accept` is inserted with: the call, and its one input as it was
 * queued. Made when written (a `.remote`'s is rarely written: no rows per call otherwise).
 */
export function createdRows(call: LiveCall): [CallRow, InputRow[]] {
  const input = call.inputs[0]!;
  return [
    {
      id: call.id,
      functionId: call.fn.id,
      appId: call.fn.appId,
      kind: call.kind,
      idempotencyKey: call.idempotencyKey,
      parentInputId: call.parentInputId,
      method: call.method ?? null,
      createdAt: call.createdAt,
    },
    [{ id: input.id, callId: call.id, idx: 0, args: input.args, state: "pending", attempt: 0, failures: 0 }],
  ];
}
