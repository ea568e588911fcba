import {
  type CallOutcome,
  type FunctionSpec,
  type FunctionStats,
  type InputColumnsWire,
  type InputInfo,
  type InputWire,
  newId,
  type Payload,
  packPayloads,
  type ResultWire,
} from "@skiff/protocol";
import { ApiError, invalid } from "../api/api-error.js";
import type { TokenService } from "../auth/tokens.js";
import type { WorkerProvider } from "../provider.js";
import { outcomeBlob, payloadBlob } from "../store/blob-refs.js";
import type { BlobStore } from "../store/blobs/blob-store.js";
import type { CallRow, InputRow, Store, StoredCall } from "../store/store.js";
import { type BatchHost, dispatchBatches, stopBatching } from "./batching.js";
import { buildCallGraph } from "./call-graph.js";
import { Deque } from "./deque.js";
import { FanOut } from "./fan-out.js";
import { Fleet } from "./fleet.js";
import type { LogHub } from "./log-hub.js";
import { MapResume } from "./map-resume.js";
import {
  createdRows,
  type FunctionView,
  type LiveCall,
  type LiveContainer,
  type LiveFunction,
  type LiveInput,
  type RunningAttempt,
} from "./model.js";
import { FunctionStats as FunctionCounters } from "./observe/function-stats.js";
import { type EngineSnapshot, snapshotContainers, snapshotFunction, snapshotMaps } from "./observe/snapshot.js";
import {
  argBytes,
  MAX_PREFETCH_BYTES,
  prefetchDepth,
  type ReclaimHost,
  reclaim,
  revokeHeld,
  stopReclaim,
  takesInputs,
  unqueue,
} from "./prefetch.js";
import { RecentMap } from "./recent-map.js";
import { Retention } from "./retention.js";
import { retryDelayMs } from "./retry-policy.js";
import { RunTimes } from "./run-times.js";
import { DEFAULT_RESIDENT_SPAWNS, SpawnPager } from "./spawn-pager.js";
import { resolveTarget } from "./targets.js";
import { waitForOutcome } from "./waiters.js";

export interface EngineOptions {
  store: Store;
  blobs: BlobStore;
  provider: WorkerProvider;
  tokens: TokenService;
  logs: LogHub;
  controlSocket: string;
  /** How long results of `.spawn` are kept. @defaultValue 7 days */
  resultRetentionMs: number;
  /** Grace time a container gets to stop an input after its signal fired. @defaultValue 2000 */
  killGraceMs?: number;
  /** Pending spawned calls a function keeps in memory; more wait in the store. @defaultValue 10_000 */
  maxResidentSpawns?: number;
  /** A class instance idle this long (no calls, no containers) leaves memory. @defaultValue 300_000 */
  instanceIdleMs?: number;
  /** Containers starting at once, across functions; 0: no bound. @defaultValue 2 per core (SKIFF_START_CONCURRENCY) */
  startConcurrency?: number;
  log: (msg: string) => void;
}

/** Undelivered `.remote` results are kept this long for a caller that reconnects. */
const REMOTE_RESULT_TTL_MS = 60 * 60 * 1000;
/** Delivered `.remote` outcomes remembered for resends after a lost reply. */
const RECENT_DELIVERED = 10_000;
/** A class instance with no calls and no containers this long is let go (taken back on its next call). */
const INSTANCE_IDLE_MS = 5 * 60_000;
/** Blobs of stored outcomes remembered as just handed out (see handedOut). */
const HANDED_OUT_MAX = 100_000;
/** The outcome of a web request with a result URL that a restart of the server cut short. */
export const INTERRUPTED_WEB_CALL = "the server restarted before this request's response was complete";
/** How often idle containers are checked and retention runs. */
const TICK_MS = 250;

/** What createCall is given. */
export interface NewCall {
  functionId: string;
  kind: "remote" | "spawn";
  args: Payload;
  idempotencyKey: string;
  /** The key is known never to have been sent before (api/fresh-keys.ts). */
  fresh?: boolean;
  parentInputId: string | undefined;
  method?: string | undefined;
}

/** A call createCall made or found (`existing`), with its outcome where memory has it. */
export interface CreatedCall {
  callId: string;
  existing: boolean;
  outcome?: CallOutcome;
}

/**
 * Queues inputs, hands them to containers, collects outputs, retries, times out and scales.
 * All scheduling state lives here in memory; the store holds what must survive a restart.
 */
export class Engine {
  /** Registered functions. Outside the engine, read them through `functionView`/`liveFunctions`. */
  readonly functions = new Map<string, LiveFunction>();
  /** The current minute, advanced on each tick: stats recording reads no clock of its own. */
  private readonly clock = { minute: Math.floor(Date.now() / 60_000) };
  private readonly calls = new Map<string, LiveCall>();
  private readonly inputs = new Map<string, LiveInput>();
  /** The containers, and their scaling. */
  readonly fleet: Fleet;
  /** Maps and generator calls. */
  readonly fanOut: FanOut;
  /** Idempotency keys of live calls (their rows may not be written yet). */
  private readonly liveKeys = new Map<string, string>();
  /**
   * `.remote` outcomes handed to a caller a moment ago, by idempotency key: if the reply was
   * lost with the connection, the caller's resend gets the same outcome instead of a second
   * run. Bounded: the oldest entries go first.
   */
  private readonly recentlyDelivered = new RecentMap<string, { callId: string; outcome: CallOutcome; at: number }>(
    RECENT_DELIVERED,
  );
  /**
   * Blobs of stored outcomes handed to a caller in the last minute (by when): the caller
   * fetches them right after, though no row refers to them any more. Bounded.
   */
  private readonly handedOut = new Map<string, number>();
  /** Spawned calls waiting in the store beyond each function's resident limit. */
  private readonly pager: SpawnPager;
  private resolveFunction: ((functionId: string) => Promise<LiveFunction | undefined>) | undefined;
  private readonly tickTimer: NodeJS.Timeout;
  private readonly retention: Retention;
  private closed = false;
  /** Set by drain(): no input starts from then on. */
  private draining = false;
  private readonly batchHost: BatchHost = {
    startAttempt: (input, c) => this.startAttempt(input, c),
    dispatch: (fn) => this.dispatch(fn),
  };
  private readonly reclaimHost: ReclaimHost = {
    revoke: (c, inputIds) => c.channel?.send("inputs.revoke", { inputIds }),
    dispatch: (fn) => this.dispatch(fn),
  };

  constructor(private readonly o: EngineOptions) {
    this.fleet = new Fleet(o, {
      functions: this.functions,
      dispatch: (fn) => this.dispatch(fn),
      enqueue: (input, front) => this.enqueue(input, front),
      finishInput: (input, result, ms) => this.finishInput(input, result, ms),
      attemptFailed: (input, result, ms) => this.attemptFailed(input, result, ms),
      slotStarted: (c, ra) => this.slotStarted(c, ra),
      streamItems: (input, items) => this.fanOut.streamItems(input, items),
      isClosed: () => this.closed,
    });
    this.fanOut = new FanOut(
      {
        calls: this.calls,
        inputs: this.inputs,
        containers: this.fleet.containers,
        liveFunction: (id) => this.liveFunction(id),
        newCall: (fn, parent, extra) => this.newCall(fn, parent, extra),
        newInput: (call, idx, args, now) => this.newInput(call, idx, args, undefined, now),
        track: (call) => this.track(call),
        untrack: (call) => this.untrack(call),
        enqueue: (input) => this.enqueue(input),
        startInput: (input) => this.startInput(input),
        dispatch: (fn) => this.dispatch(fn),
        load: (functionId) => this.load(functionId),
        cancel: (callId) => void this.cancelCall(callId, false).catch(() => {}), // already over
      },
      new MapResume(o.store),
    );
    this.pager = new SpawnPager(
      {
        store: o.store,
        revive: (fn, row, inputs) => this.revive(fn, row, inputs),
        resultRetentionMs: o.resultRetentionMs,
      },
      o.maxResidentSpawns ?? DEFAULT_RESIDENT_SPAWNS,
    );
    this.retention = new Retention(
      o.store,
      o.resultRetentionMs,
      o.log,
      (now) => this.fanOut.resume.expire(now),
      () => [...this.functions.values()].filter((f) => f.baseId !== undefined).map((f) => f.id),
    );
    this.tickTimer = setInterval(() => this.tick(), TICK_MS);
    this.tickTimer.unref();
  }

  // ---- functions -------------------------------------------------------------------

  /** Makes a function callable (or updates it to a new version after a redeploy). */
  registerFunction(f: {
    id: string;
    appId: string;
    appName: string;
    environment: string;
    version: number;
    spec: FunctionSpec;
    bundleBlobId: string;
    /** For a class instance's pool. */
    baseId?: string;
    params?: Uint8Array;
  }): LiveFunction {
    const existing = this.functions.get(f.id);
    if (existing) {
      existing.appName = f.appName;
      existing.version = f.version;
      existing.spec = f.spec;
      existing.bundleBlobId = f.bundleBlobId;
      existing.live = true;
      existing.startFailures = 0;
      existing.nextStartAt = 0;
      // Old-version containers finish what they run, then go.
      for (const c of existing.containers.values()) if (c.version !== f.version) this.fleet.drain(c);
      this.fleet.scale(existing);
      return existing;
    }
    const fn: LiveFunction = {
      ...f,
      baseId: f.baseId,
      params: f.params,
      name: f.spec.name,
      queue: new Deque(),
      containers: new Map(),
      startFailures: 0,
      nextStartAt: 0,
      retryScaleTimer: undefined,
      activeCalls: 0,
      idleSince: Date.now(),
      avgDurationMs: Number.NaN,
      runTimes: new RunTimes(),
      turnaroundMs: Number.NaN,
      startLatencyMs: Number.NaN,
      reclaimTimer: undefined,
      residentSpawns: 0,
      parked: 0,
      pageInScheduled: false,
      live: true,
      stats: new FunctionCounters(this.clock),
    };
    this.functions.set(fn.id, fn);
    this.fleet.scale(fn);
    return fn;
  }

  /** Stops a function (and a class's instances): pending inputs end as terminated, containers are shut down. */
  unregisterFunction(functionId: string, reason: string): void {
    const fn = this.functions.get(functionId);
    if (!fn) return;
    for (const other of [...this.functions.values()])
      if (other.baseId === functionId) this.unregisterFunction(other.id, reason);
    fn.live = false;
    stopBatching(fn);
    stopReclaim(fn);
    if (fn.retryScaleTimer) clearTimeout(fn.retryScaleTimer);
    for (const input of fn.queue.drain()) this.finishInput(input, { status: "terminated", message: reason });
    for (const input of this.inputs.values()) {
      if (input.call.fn === fn && input.status !== "done")
        this.finishInput(input, { status: "terminated", message: reason });
    }
    for (const c of fn.containers.values()) this.fleet.drain(c);
    this.functions.delete(functionId);
    if (fn.parked > 0)
      this.pager
        .endParked(fn, reason)
        .then((n) => this.o.log(`ended ${n} parked call(s) of ${fn.appName}.${fn.name}: ${reason}`))
        // The store failed to answer: they end at the next start (recovery finds no function).
        .catch((err: unknown) => this.o.log(`could not end the parked calls of ${fn.id}: ${(err as Error).message}`));
  }

  // ---- calls -----------------------------------------------------------------------

  /**
   * Accepts a call. With the same idempotency key as an earlier call, returns that call
   * instead (a client resending after a reconnect). `fresh`: the key is known never to have
   * been sent before (api/fresh-keys.ts), so the store is not asked for it (on Postgres, a
   * round trip behind the commit in flight); memory is still checked.
   */
  async createCall(p: NewCall): Promise<CreatedCall> {
    const now = this.createCallNow(p);
    if (now) return now;
    const [prior] = await Promise.all([
      p.fresh ? undefined : this.o.store.getCallByIdempotencyKey(p.idempotencyKey),
      this.load(p.functionId),
    ]);
    // Looked again after the read: the same key may have arrived meanwhile.
    const again = this.knownCall(p.idempotencyKey);
    if (again) return again;
    if (prior) return { callId: prior.id, existing: true };
    return this.accept(p);
  }

  /**
   * createCall without waiting, where nothing needs reading first (the key is fresh, the
   * function loaded: every warm `.remote`): the call is queued before this returns, with no
   * turns of promises between the request and its input leaving for a container. Undefined
   * where createCall must read first (it checked memory for the key already).
   */
  createCallNow(p: NewCall): CreatedCall | undefined {
    const known = this.knownCall(p.idempotencyKey);
    if (known) return known;
    if (!p.fresh || !this.functions.has(p.functionId)) return undefined;
    return this.accept(p);
  }

  /** Makes a new call (its key is known to be new) and queues its input. */
  private accept(p: NewCall): CreatedCall {
    const fn = this.liveFunction(p.functionId);
    const target = resolveTarget(fn, p.method);
    if (target.isGenerator)
      throw invalid(`${fn.appName}.${target.name} is a generator: call remoteGen() to stream its results`);
    if (p.kind === "spawn" && this.pager.shouldPark(fn)) {
      // Past the resident limit: durable in the store, paged in as earlier spawns finish.
      const id = newId("fc");
      const createdAt = Date.now();
      this.pager.park(
        fn,
        {
          id,
          functionId: fn.id,
          appId: fn.appId,
          kind: "spawn",
          idempotencyKey: p.idempotencyKey,
          parentInputId: p.parentInputId ?? null,
          method: p.method ?? null,
          createdAt,
        },
        [{ id: newId("in"), callId: id, idx: 0, args: p.args, state: "pending", attempt: 0, failures: 0 }],
      );
      return { callId: id, existing: false };
    }
    const call = this.newCall(fn, p.parentInputId, {
      kind: p.kind,
      idempotencyKey: p.idempotencyKey,
      method: p.method,
    });
    const input = this.newInput(call, 0, p.args);
    call.inputs.push(input);
    this.track(call);
    // A `.remote` call is held in memory only: its caller holds the input too and resends it
    // (same idempotency key) after a reconnect, so a crash loses nothing. It is written only
    // if something must outlive it here: a retry's state, or a result its caller left behind.
    if (call.kind === "remote") call.deferred = "held";
    else {
      this.o.store.insertCall(...createdRows(call));
      this.pager.added(fn);
    }
    this.enqueue(input);
    return { callId: call.id, existing: false };
  }

  /** A call with this idempotency key that memory knows of (live, or delivered a moment ago). */
  private knownCall(key: string): { callId: string; existing: true; outcome?: CallOutcome } | undefined {
    const live = this.liveKeys.get(key);
    if (live) return { callId: live, existing: true };
    const recent = this.recentlyDelivered.get(key);
    if (recent) return { callId: recent.callId, existing: true, outcome: recent.outcome };
    return undefined;
  }

  /**
   * Finds functions that are not in memory: a class instance let go while idle is taken back
   * on its next call (set by the app service, which knows the instances).
   */
  setFunctionResolver(resolve: (functionId: string) => Promise<LiveFunction | undefined>): void {
    this.resolveFunction = resolve;
  }

  /** Brings a function that is not in memory (an idle class instance) back, if it exists. */
  async load(functionId: string): Promise<void> {
    if (!this.functions.has(functionId)) await this.resolveFunction?.(functionId);
  }

  private async lookupFunction(functionId: string): Promise<LiveFunction | undefined> {
    await this.load(functionId);
    return this.functions.get(functionId);
  }

  /** A live function by id, or not_found. */
  private liveFunction(functionId: string): LiveFunction {
    const fn = this.functions.get(functionId); // an idle class instance: load() first
    const dot = functionId.lastIndexOf(".");
    if (!fn && dot > 0 && this.functions.get(functionId.slice(0, dot))?.live)
      throw new ApiError(
        "not_found",
        `${functionId} is not a known instance of a running class (its row was dropped after going unused for the result retention): call instance() again to bind it anew`,
      );
    if (!fn?.live)
      throw new ApiError(
        "not_found",
        `function ${functionId} is not running (its app was stopped or redeployed without it)`,
      );
    return fn;
  }

  /** A new call of `fn`; the kind-specific parts are given in `extra`. */
  private newCall(fn: LiveFunction, parentInputId: string | undefined, extra: Partial<LiveCall>): LiveCall {
    return {
      id: newId("fc"),
      fn,
      kind: "remote",
      idempotencyKey: null,
      parentInputId: parentInputId ?? null,
      method: undefined,
      createdAt: Date.now(),
      inputs: [],
      outcome: undefined,
      waiters: undefined,
      deferred: undefined,
      map: undefined,
      stream: undefined,
      ...extra,
    };
  }

  private track(call: LiveCall): void {
    this.calls.set(call.id, call);
    call.fn.activeCalls++;
    if (call.idempotencyKey) this.liveKeys.set(call.idempotencyKey, call.id);
  }

  private untrack(call: LiveCall): void {
    if (!this.calls.delete(call.id)) return;
    call.fn.activeCalls--;
    call.fn.idleSince = Date.now();
    if (call.idempotencyKey) this.liveKeys.delete(call.idempotencyKey);
    if (call.map) {
      const m = call.map;
      if (m.detached) clearTimeout(m.detached);
      this.fanOut.resume.ended(call.id);
      // Results still waiting for this tick's flush go out first.
      setImmediate(() => m.onDone());
    }
  }

  /** Before writing anything else about a call, its own row must exist. */
  private persisted(call: LiveCall): void {
    if (call.deferred !== "held") return;
    call.deferred = "written";
    this.o.store.insertCall(...createdRows(call));
  }

  /** `now`: the time it is queued (a map's batch reads the clock once for all its inputs). */
  private newInput(call: LiveCall, idx: number, args: Payload, id = newId("in"), now = Date.now()): LiveInput {
    const input: LiveInput = {
      id,
      call,
      idx,
      args,
      attempt: 0,
      failures: 0,
      lost: 0,
      status: "pending",
      graph: call.kind === "spawn" || call.parentInputId !== null,
      container: undefined,
      startedAt: 0,
      queuedAt: now,
      attemptOpen: false,
      seq: -1,
    };
    this.inputs.set(input.id, input);
    call.fn.stats.accepted++;
    if (input.graph) {
      this.o.store.insertGraphInput({
        inputId: input.id,
        callId: call.id,
        parentInputId: call.parentInputId,
        functionName: call.method ? `${call.fn.name}.${call.method}` : call.fn.name,
        createdAt: call.createdAt,
      });
    }
    return input;
  }

  /**
   * Waits for a call's outcome. Resolves undefined when `timeoutMs` passes first.
   * @throws ApiError not_found for an unknown call id.
   */
  awaitCall(
    callId: string,
    timeoutMs: number | undefined,
    onGone?: (cancel: () => void) => void,
  ): Promise<CallOutcome | undefined> {
    // Not an async function: a live call's outcome reaches the caller's reply in the turn it
    // arrives, not two promise turns later (a warm `.remote` is waited on here).
    const live = this.calls.get(callId);
    if (live) return this.waitLive(live, timeoutMs, onGone);
    return this.awaitStored(callId, timeoutMs, onGone);
  }

  private waitLive(
    live: LiveCall,
    timeoutMs: number | undefined,
    onGone: ((cancel: () => void) => void) | undefined,
  ): Promise<CallOutcome | undefined> {
    if (live.outcome) {
      try {
        return Promise.resolve(this.delivered(live, live.outcome));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return waitForOutcome(
      (w) => {
        live.waiters ??= new Set();
        live.waiters.add(w);
      },
      (w) => live.waiters?.delete(w),
      timeoutMs,
      onGone,
    );
  }

  /** awaitCall of a call that is not in memory: as the store has it. */
  private async awaitStored(
    callId: string,
    timeoutMs: number | undefined,
    onGone: ((cancel: () => void) => void) | undefined,
  ): Promise<CallOutcome | undefined> {
    const waitLive = (live: LiveCall) => this.waitLive(live, timeoutMs, onGone);
    const { stored, fn } = await this.readCall(callId);
    // Paged in while the store was read.
    const now = this.calls.get(callId);
    if (now) return waitLive(now);
    if (!stored) throw new ApiError("not_found", `no function call ${callId}`);
    if (
      stored.state === "expired" ||
      (stored.state !== "pending" && stored.expiresAt !== null && stored.expiresAt <= Date.now())
    ) {
      return { kind: "expired" };
    }
    if (stored.outcome) {
      if (stored.kind === "remote") {
        this.o.store.deleteCall(callId);
        const b = outcomeBlob(stored.outcome);
        if (b && this.handedOut.size < HANDED_OUT_MAX) this.handedOut.set(b, Date.now());
      }
      return stored.outcome;
    }
    if (stored.state === "pending" && fn?.live) {
      // Parked: waits in the store until it is paged in and finishes.
      return waitForOutcome(
        (w) => this.pager.addWaiter(callId, w),
        (w) => {
          this.pager.removeWaiter(callId, w);
          this.calls.get(callId)?.waiters?.delete(w); // paged in meanwhile
        },
        timeoutMs,
        onGone,
      );
    }
    // Pending in the store but not live: the function is gone.
    return Promise.resolve({
      kind: "result",
      result: { status: "terminated", message: "the call's function is no longer running" },
    });
  }

  /**
   * A call that is not in memory, as the store has it, and its function if it is pending. Read
   * again when the call left the parked state during the read (paged in, perhaps finished, or
   * cancelled): acting on the stale "pending" would leave a waiter with the pager that nothing
   * answers any more, or cancel a call that has finished. A call leaves that state once, so
   * this reads twice at most.
   */
  private async readCall(callId: string): Promise<{ stored: StoredCall | undefined; fn: LiveFunction | undefined }> {
    for (;;) {
      const watch = this.pager.watch(callId);
      try {
        const stored = await this.o.store.getCall(callId);
        const fn = stored?.state === "pending" ? await this.lookupFunction(stored.functionId) : undefined;
        if (!watch.left) return { stored, fn };
      } finally {
        this.pager.unwatch(callId, watch);
      }
    }
  }

  /** A waiter took the outcome: `.remote` results are dropped once read. */
  private delivered(call: LiveCall, outcome: CallOutcome): CallOutcome {
    if (call.kind === "remote") {
      this.untrack(call);
      if (call.idempotencyKey) {
        this.recentlyDelivered.set(call.idempotencyKey, { callId: call.id, outcome, at: Date.now() });
      }
      // Delivered while only in memory: it never touches the disk.
      if (call.deferred === "held") call.deferred = "dropped";
      else this.o.store.deleteCall(call.id);
    }
    return outcome;
  }

  async cancelCall(callId: string, terminateContainers: boolean): Promise<void> {
    let call = this.calls.get(callId);
    if (!call) {
      const { stored, fn } = await this.readCall(callId);
      call = this.calls.get(callId); // paged in while the store was read
      if (!call) {
        if (!stored) throw new ApiError("not_found", `no function call ${callId}`);
        if (stored.state === "pending" && fn?.live) {
          // Parked: it never ran. Ends cancelled where it lies.
          const now = Date.now();
          const outcome: CallOutcome = { kind: "cancelled" };
          this.o.store.completeCall(callId, "cancelled", outcome, now, now + this.o.resultRetentionMs);
          this.pager.cancelledParked(fn, callId);
          for (const w of this.pager.takeWaiters(callId)) w(outcome);
        }
        return; // already finished: nothing to cancel
      }
    }
    for (const input of call.map ? [...call.map.live.values()] : call.inputs) {
      if (input.status === "done") continue;
      const c = input.container;
      if (input.status === "running" && c) {
        c.channel?.send("cancel", { inputIds: [input.id], reason: "cancelled" });
        const ra = c.running.get(input.seq);
        if (ra?.input === input) {
          ra.timedOut = true; // its answer is no longer wanted
          if (terminateContainers) this.fleet.killContainer(c, "cancelled with terminateContainers");
          // One waiting in the container never started: it is answered when the container
          // reads the cancel, which a long synchronous input may delay; nothing to kill for it.
          else if (!ra.queued)
            ra.killTimer = setTimeout(() => this.killIfStillRunning(c, ra), this.o.killGraceMs ?? 2000);
        }
      }
      if (input.attemptOpen) this.endAttempt(input, "cancelled");
      this.markInputDone(input);
      if (input.graph) this.o.store.updateGraphInput(input.id, null, "terminated");
    }
    if (call.map) this.untrack(call);
    else this.completeCall(call, { kind: "cancelled" });
  }

  // ---- queue and dispatch ----------------------------------------------------------

  private enqueue(input: LiveInput, front = false): void {
    this.requeue(input, front);
    this.dispatch(input.call.fn);
  }

  /**
   * A new input (a web request's generator call) with nothing queued ahead of it goes straight
   * to the first ready container with a free slot: the container, the attempt and the message
   * dispatch would have chosen, without the queue's round trip and the hand-out's grouping.
   * Otherwise (no free slot: scale-up; batched; stopping) it is queued and dispatched.
   */
  private startInput(input: LiveInput): void {
    const fn = input.call.fn;
    if (!this.draining && fn.queue.length === 0 && !fn.spec.options.batched) {
      const slots = fn.spec.options.maxInputs;
      for (const c of fn.containers.values()) {
        if (!takesInputs(fn, c) || c.running.size >= slots) continue;
        this.beginAttempt(input, c, false, performance.now());
        const call = input.call;
        const group: InputColumnsWire = {
          callId: call.id,
          timeoutMs: fn.spec.options.timeoutMs,
          seq0: input.seq,
          inputIds: [input.id],
          attempts: [input.attempt],
          args: [input.args],
        };
        if (call.method !== undefined) group.method = call.method;
        c.channel!.send("inputs.cols", { groups: [group] });
        // As dispatch ends: buffer containers and measured demand may want another container.
        this.fleet.scale(fn);
        return;
      }
    }
    this.enqueue(input);
  }

  /** Puts an input in its function's queue, without dispatching. */
  private requeue(input: LiveInput, front: boolean): void {
    // Back in the queue with its attempt still open: its container was lost under it.
    if (input.attemptOpen) this.endAttempt(input, "lost");
    input.status = "pending";
    input.container = undefined;
    input.queuedAt = Date.now();
    if (front) input.call.fn.queue.unshift(input);
    else input.call.fn.queue.push(input);
  }

  /**
   * Hands queued inputs to ready containers: first to every free slot, then, for short inputs,
   * ahead of the slots (engine/prefetch.ts); takes back inputs waiting behind a slow one when
   * another container is idle; then rescales.
   */
  private dispatch(fn: LiveFunction): void {
    // Stopping: running inputs finish, nothing new starts (queued inputs wait for the next start).
    if (this.draining) return;
    if (fn.spec.options.batched) {
      dispatchBatches(fn, this.batchHost); // engine/batching.ts
      this.fleet.scale(fn);
      return;
    }
    const slots = fn.spec.options.maxInputs;
    if (fn.queue.length > 0) this.handOut(fn, slots, false);
    if (fn.queue.length > 0) {
      // Only once every free slot is taken: an input never waits in a busy container while
      // another has room.
      const depth = prefetchDepth(fn);
      if (depth > 0) this.handOut(fn, slots + depth, true);
    } else if (fn.containers.size > 1) reclaim(fn, this.reclaimHost);
    this.fleet.scale(fn);
  }

  /** Fills each ready container of `fn` up to `limit` inputs (`ahead`: beyond its slots, to wait there). */
  private handOut(fn: LiveFunction, limit: number, ahead: boolean): void {
    // One clock read per hand-out: the turnaround of inputs that start at once is measured.
    const sentAt = ahead ? Number.NaN : performance.now();
    for (const c of fn.containers.values()) {
      if (!takesInputs(fn, c) || (ahead && c.prefetchPaused)) continue;
      // As columns, a group per run of one call's inputs (`inputs.cols`): no object per input
      // to encode here and decode in the container.
      const groups: InputColumnsWire[] = [];
      let group: InputColumnsWire | undefined;
      let args: Payload[] = [];
      while (c.running.size < limit && fn.queue.length > 0) {
        if (ahead && c.queuedBytes >= MAX_PREFETCH_BYTES) break;
        const input = fn.queue.shift()!;
        if (input.status !== "pending") continue; // cancelled while queued
        this.beginAttempt(input, c, ahead, sentAt);
        const call = input.call;
        if (group?.callId !== call.id || group.seq0 + group.inputIds.length !== input.seq) {
          if (group) group.args = packPayloads(args);
          args = [];
          group = {
            callId: call.id,
            timeoutMs: fn.spec.options.timeoutMs,
            seq0: input.seq,
            inputIds: [],
            attempts: [],
            args: [],
          };
          // Set after, not spread in: a spread makes two objects more per hand-out.
          if (call.method !== undefined) group.method = call.method;
          groups.push(group);
        }
        group.inputIds.push(input.id);
        group.attempts.push(input.attempt);
        args.push(input.args);
      }
      if (group) group.args = packPayloads(args);
      if (groups.length > 0) c.channel!.send("inputs.cols", { groups });
      if (fn.queue.length === 0) break;
    }
  }

  /**
   * The container gave back inputs it had not started (asked by reclaim): they go to the front
   * of the queue, as they were, for an idle container. Any it did not list had started there.
   */
  containerReturned(containerId: string, items: { inputId: string; attempt: number }[]): void {
    const c = this.fleet.containers.get(containerId);
    if (!c) return; // gone: what it held was queued again already
    const back: LiveInput[] = [];
    for (const { inputId, attempt } of items) {
      // Held ones never started: each is its input's current attempt.
      const held = this.inputs.get(inputId);
      const ra = held && held.container === c && held.attempt === attempt ? c.running.get(held.seq) : undefined;
      if (!ra?.queued || ra.input !== held) continue;
      unqueue(c, ra);
      c.running.delete(ra.seq);
      const input = ra.input;
      if (ra.timedOut || input.status !== "running" || input.attempt !== attempt) continue;
      back.push(input);
    }
    if (c.running.size === 0) c.idleSince = Date.now();
    // Front of the queue, in the order they were handed out.
    for (let i = back.length - 1; i >= 0; i--) this.requeue(back[i]!, true);
    this.dispatch(c.fn);
  }

  /** Starts an attempt of `input` on `c` and returns what the container is sent (batching.ts). */
  private startAttempt(input: LiveInput, c: LiveContainer): InputWire {
    this.beginAttempt(input, c);
    return {
      inputId: input.id,
      callId: input.call.id,
      attempt: input.attempt,
      args: input.args,
      timeoutMs: input.call.fn.spec.options.timeoutMs,
      ...(input.call.method !== undefined ? { method: input.call.method } : {}),
      seq: input.seq,
    };
  }

  /**
   * Starts an attempt of `input` on `c` (what the container is sent is the caller's). `queued`:
   * it waits in the container for a slot (prefetch); its timeout clock starts with the slot.
   */
  private beginAttempt(input: LiveInput, c: LiveContainer, queued = false, sentAt = Number.NaN): void {
    input.attempt++;
    input.status = "running";
    input.container = c;
    input.startedAt = Date.now();
    const fn = input.call.fn;
    fn.stats.queueWait.observe(input.startedAt - input.queuedAt);
    if (input.graph) {
      this.o.store.updateGraphInput(input.id, c.id, "pending");
      // Waiting for this container to start (it was not ready when the input was queued).
      const cold = c.readyAt > input.queuedAt ? c.readyAt - Math.max(input.queuedAt, c.startedAt) : 0;
      this.o.store.insertAttempt({
        inputId: input.id,
        callId: input.call.id,
        attempt: input.attempt,
        containerId: c.id,
        queuedAt: input.queuedAt,
        startedAt: input.startedAt,
        coldStartMs: cold,
      });
      input.attemptOpen = true;
    }
    const timeoutMs = input.call.fn.spec.options.timeoutMs;
    input.seq = c.nextSeq++;
    const ra: RunningAttempt = {
      input,
      attempt: input.attempt,
      seq: input.seq,
      timedOut: false,
      killTimer: undefined,
      deadline: queued ? Number.POSITIVE_INFINITY : input.startedAt + timeoutMs,
      slotAt: queued ? Number.POSITIVE_INFINITY : input.startedAt,
      queued,
      sentAt,
    };
    c.running.set(ra.seq, ra);
    if (queued) {
      c.queued++;
      c.queuedBytes += argBytes(input.args);
    }
    // A generator's deadline moves by the time it is paused (checkDeadlines); it starts here.
    else if (!c.deadlineTimer || ra.deadline < c.deadlineAt) this.armDeadline(c, ra.deadline);
  }

  /** An input that waited in `c` took a freed slot (fleet.ts, on an output): its timeout clock starts. */
  private slotStarted(c: LiveContainer, ra: RunningAttempt): void {
    if (ra.input.call.stream) return; // never prefetched
    ra.slotAt = Date.now();
    ra.deadline = ra.slotAt + ra.input.call.fn.spec.options.timeoutMs;
    if (!c.deadlineTimer || ra.deadline < c.deadlineAt) this.armDeadline(c, ra.deadline);
  }

  private armDeadline(c: LiveContainer, at: number): void {
    if (c.deadlineTimer) clearTimeout(c.deadlineTimer);
    c.deadlineAt = at;
    c.deadlineTimer = setTimeout(() => this.checkDeadlines(c), Math.max(0, at - Date.now()));
  }

  /** Times out a container's attempts that are due, then re-arms for the next deadline. */
  private checkDeadlines(c: LiveContainer): void {
    c.deadlineTimer = undefined;
    if (c.status === "dead") return;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    // At most maxInputs entries (timed-out ones stay until the container answers or dies).
    for (const ra of [...c.running.values()]) {
      if (ra.timedOut) continue;
      const at = deadlineOf(ra, now);
      if (at <= now) this.onTimeout(ra.input, c, ra);
      else next = Math.min(next, at);
    }
    if (next !== Number.POSITIVE_INFINITY) this.armDeadline(c, next);
  }

  private onTimeout(input: LiveInput, c: LiveContainer, ra: RunningAttempt): void {
    if (input.status !== "running" || input.attempt !== ra.attempt) return;
    ra.timedOut = true;
    c.channel?.send("cancel", { inputIds: [input.id], reason: "timeout" });
    // JavaScript cannot interrupt a running function: if it ignores its signal, replace its container.
    ra.killTimer = setTimeout(() => this.killIfStillRunning(c, ra), this.o.killGraceMs ?? 2000);
    const secs = input.call.fn.spec.options.timeoutMs / 1000;
    this.attemptFailed(input, {
      status: "timeout",
      message: `${input.call.fn.appName}.${input.call.fn.name} timed out after ${secs}s (attempt ${input.attempt})`,
    });
  }

  private killIfStillRunning(c: LiveContainer, ra: RunningAttempt): void {
    if (c.running.get(ra.seq) === ra && c.status !== "dead") {
      this.o.log(`container ${c.id} ignored the signal of input ${ra.input.id}: replacing it`);
      this.fleet.killContainer(c, "an input ignored its cancel/timeout signal");
    }
  }

  /** A thrown error or a timeout: retry if the policy allows, else finish. */
  /** `durationMs`: how long the attempt ran, as its container measured it (NaN when unknown). */
  private attemptFailed(input: LiveInput, result: ResultWire, durationMs = Number.NaN): void {
    const policy = input.call.fn.spec.options.retries;
    // A generator that already yielded is not retried: its consumer has seen those items.
    const yielded = (input.call.stream?.yielded ?? 0) > 0;
    if (input.attemptOpen) this.endAttempt(input, result.status);
    if (input.failures < policy.maxRetries && input.call.fn.live && !yielded) {
      input.failures++;
      input.call.fn.stats.retried++;
      input.status = "retry_wait";
      input.container = undefined;
      this.persisted(input.call);
      this.o.store.updateInput(input.id, "pending", input.attempt, input.failures);
      setTimeout(
        () => {
          if (input.status === "retry_wait") this.enqueue(input);
        },
        retryDelayMs(policy, input.failures),
      ).unref();
      return;
    }
    this.finishInput(input, result, durationMs);
  }

  /** Ends the recorded attempt of a graph input (its timing on the call's page). */
  private endAttempt(input: LiveInput, status: string): void {
    input.attemptOpen = false;
    this.o.store.endAttempt(input.id, input.attempt, status, Date.now());
  }

  private markInputDone(input: LiveInput): void {
    input.status = "done";
    input.container = undefined;
    this.inputs.delete(input.id);
  }

  /** `durationMs`: how long its last attempt ran, as its container measured it (NaN when unknown). */
  private finishInput(input: LiveInput, result: ResultWire, durationMs = Number.NaN): void {
    if (input.status === "done") return;
    if (input.attemptOpen) this.endAttempt(input, result.status);
    // The container's own measure: no clock read here, once per input at 100k inputs/s.
    input.call.fn.stats.finished(result.status === "success", durationMs);
    this.markInputDone(input);
    if (input.graph)
      this.o.store.updateGraphInput(input.id, null, result.status === "success" ? "success" : result.status);
    const call = input.call;
    if (call.map) {
      this.fanOut.mapResult(call, call.map, input, result);
      return;
    }
    if (call.stream) {
      call.stream.sink([], result);
      this.untrack(call);
      return;
    }
    if (call.inputs.every((i) => i.status === "done")) this.completeCall(call, { kind: "result", result });
  }

  private completeCall(call: LiveCall, outcome: CallOutcome): void {
    if (call.outcome) return;
    call.outcome = outcome;
    const now = Date.now();
    const state = outcome.kind === "cancelled" ? "cancelled" : "done";
    const ttl = call.kind === "spawn" ? this.o.resultRetentionMs : REMOTE_RESULT_TTL_MS;
    // Taken off the call before any is told (none may be added to it after its outcome).
    const waiters = call.waiters;
    call.waiters = undefined;
    if (waiters !== undefined && waiters.size > 0 && call.kind === "remote") {
      // The caller has it: `.remote` results are not kept.
      for (const w of waiters) w(outcome);
      this.delivered(call, outcome);
      return;
    }
    this.persisted(call);
    this.o.store.completeCall(call.id, state, outcome, now, now + ttl);
    if (waiters !== undefined) for (const w of waiters) w(outcome);
    this.untrack(call); // the store answers later gets
    if (call.kind === "spawn") this.pager.settled(call.fn);
  }

  /**
   * Blobs that memory refers to: args of live inputs, outcomes not yet delivered, and
   * outcomes delivered a moment ago (their callers are fetching them). The blob sweeper
   * keeps these.
   */
  blobsInUse(): Set<string> {
    const out = new Set<string>();
    const add = (b: string | null) => {
      if (b) out.add(b);
    };
    for (const i of this.inputs.values()) add(payloadBlob(i.args));
    for (const c of this.calls.values()) if (c.outcome) add(outcomeBlob(c.outcome));
    const since = Date.now() - 60_000;
    for (const r of this.recentlyDelivered.values()) if (r.at >= since) add(outcomeBlob(r.outcome));
    for (const [b, at] of this.handedOut) {
      if (at < since) this.handedOut.delete(b);
      else out.add(b);
    }
    return out;
  }

  /** Scale-down, retention and log trimming, every TICK_MS. */
  private tick(): void {
    const now = Date.now();
    this.clock.minute = Math.floor(now / 60_000);
    for (const fn of this.functions.values()) {
      let running = 0;
      for (const c of fn.containers.values()) running += c.running.size;
      fn.stats.sample(fn.queue.length + fn.parked, running);
    }
    this.fleet.scaleDown(now);
    this.releaseIdleInstances(now);
    this.retention.tick(now);
    this.o.logs.trim();
  }

  /**
   * Takes a stored pending call into memory and queues its unfinished inputs (restart
   * recovery, and spawned calls paged in from the store).
   */
  private revive(fn: LiveFunction, row: CallRow, inputs: InputRow[], dispatch = true): void {
    const call: LiveCall = {
      id: row.id,
      fn,
      kind: row.kind,
      idempotencyKey: row.idempotencyKey,
      parentInputId: row.parentInputId,
      method: row.method ?? undefined,
      createdAt: row.createdAt,
      inputs: [],
      outcome: undefined,
      waiters: this.pager.takeWaiters(row.id),
      deferred: undefined,
      map: undefined,
      stream: undefined,
    };
    this.track(call);
    if (call.kind === "spawn") this.pager.added(fn);
    for (const r of inputs) {
      const input = this.newInput(call, r.idx, r.args, r.id);
      input.attempt = r.attempt;
      input.failures = r.failures;
      call.inputs.push(input);
      if (r.state === "done") input.status = "done";
      else fn.queue.push(input);
    }
    if (dispatch) this.dispatch(fn);
  }

  /**
   * Lets go of class instances with nothing to do for a while: an app whose callers use a
   * parameter set per user must not keep every set in memory. The next call takes it back.
   */
  private releaseIdleInstances(now: number): void {
    for (const fn of this.functions.values()) {
      if (
        fn.baseId !== undefined &&
        fn.activeCalls === 0 &&
        fn.queue.length === 0 &&
        fn.containers.size === 0 &&
        fn.parked === 0 &&
        now - fn.idleSince >= (this.o.instanceIdleMs ?? INSTANCE_IDLE_MS)
      ) {
        if (fn.retryScaleTimer) clearTimeout(fn.retryScaleTimer);
        this.functions.delete(fn.id);
        this.o.store.touchClassInstances([fn.id], now); // used until now (Retention drops it once unused long)
        this.o.log(`let go of idle class instance ${fn.appName}.${fn.name} (${fn.id}); its next call takes it back`);
      }
    }
  }

  /** Re-queues calls that were pending when the server stopped. */
  async recover(): Promise<number> {
    this.fanOut.resume.afterRestart();
    let after = "";
    let n = 0;
    for (;;) {
      const page = await this.o.store.pendingCalls(after, 1000);
      if (page.length === 0) break;
      for (const { row, inputs } of page) {
        after = row.id;
        if (inputs.length === 0) {
          // A web request with a result URL (gateway/result-urls.ts): its stream died with the
          // server. Its URL answers that, rather than not knowing it.
          const now = Date.now();
          const message = `${INTERRUPTED_WEB_CALL}: send the request again`;
          this.o.store.completeCall(
            row.id,
            "done",
            { kind: "result", result: { status: "terminated", message } },
            now,
            now + this.o.resultRetentionMs,
          );
          continue;
        }
        const fn = await this.lookupFunction(row.functionId);
        if (!fn) {
          this.o.store.completeCall(
            row.id,
            "done",
            {
              kind: "result",
              result: { status: "terminated", message: "the function's app stopped" },
            },
            Date.now(),
            Date.now() + this.o.resultRetentionMs,
          );
          continue;
        }
        n++;
        if (row.kind === "spawn" && (row.parked || this.pager.shouldPark(fn))) {
          // Over the resident limit: it waits in the store and is paged in later.
          if (!row.parked) this.o.store.setParked(row.id, true);
          fn.parked++;
          continue;
        }
        this.revive(fn, row, inputs, false);
      }
    }
    for (const fn of this.functions.values()) {
      await this.pager.pageIn(fn); // fill up to the resident limit, oldest parked first
      this.dispatch(fn);
    }
    return n;
  }

  /** Stops every container; the engine accepts nothing after this. */
  /**
   * A graceful stop begins: no queued input starts from now on; running ones finish. Resolves
   * once none runs, or when `graceMs` passes first (those still running run again after the
   * next start: spawned calls are in the store, callers of .remote and maps send theirs again).
   */
  async drain(graceMs: number): Promise<{ running: number }> {
    this.draining = true;
    // Inputs waiting in containers (prefetched) have not started: asked back, they wait in the
    // queue for the next start like the others, instead of running now (engine/prefetch.ts).
    for (const c of this.fleet.containers.values()) revokeHeld(c);
    const deadline = Date.now() + graceMs;
    for (;;) {
      const running = this.runningInputs();
      if (running === 0 || Date.now() >= deadline) return { running };
      await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, deadline - Date.now()))));
    }
  }

  /** Inputs on containers now. */
  runningInputs(): number {
    let n = 0;
    for (const c of this.fleet.containers.values()) n += c.running.size;
    return n;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.tickTimer);
    for (const c of this.fleet.containers.values()) {
      c.channel?.send("shutdown", { graceMs: 1000 });
      c.exitInfo = "server stopped";
    }
    // Maps waiting for their callers: their rows stay, for the next start to take them back.
    for (const call of this.calls.values()) if (call.map?.detached) clearTimeout(call.map.detached);
    for (const fn of this.functions.values()) {
      if (fn.retryScaleTimer) clearTimeout(fn.retryScaleTimer);
      stopReclaim(fn);
    }
    for (const c of this.fleet.containers.values()) {
      if (c.startupTimer) clearTimeout(c.startupTimer);
      if (c.stopTimer) clearTimeout(c.stopTimer);
      for (const ra of c.running.values()) if (ra.killTimer) clearTimeout(ra.killTimer);
    }
  }

  /**
   * The call graph of a call: its inputs, each with the calls made while it ran, as trees.
   * Bounded: at most `maxNodes` inputs and a depth of 64.
   */
  async callGraph(callId: string, maxNodes = 10_000): Promise<InputInfo[]> {
    const graph = await buildCallGraph(this.o.store, callId, maxNodes);
    if (graph.length === 0 && !this.calls.has(callId) && !(await this.o.store.getCall(callId))) {
      throw new ApiError("not_found", `no function call ${callId}`);
    }
    return graph;
  }

  // ---- read-only views (gateway, API, dashboard, metrics) ------------------------------

  /** A registered function, read-only. */
  functionView(functionId: string): FunctionView | undefined {
    return this.functions.get(functionId);
  }

  /** The function a call runs (in memory, or from the store): who may reach the call is its app's. */
  async callFunction(callId: string): Promise<FunctionView | undefined> {
    const live = this.calls.get(callId);
    if (live) return live.fn;
    const stored = await this.o.store.getCall(callId);
    return stored ? this.lookupFunction(stored.functionId) : undefined;
  }

  /** Every registered function, read-only. */
  liveFunctions(): Iterable<FunctionView> {
    return this.functions.values();
  }

  /** Functions, containers and running maps as plain values (the dashboard, /v1/ reads). */
  snapshot(now = Date.now()): EngineSnapshot {
    return {
      functions: [...this.functions.values()].map((fn) => snapshotFunction(fn, now)),
      containers: snapshotContainers(this.fleet.containers.values(), now),
      maps: snapshotMaps(this.calls.values()),
    };
  }

  /** One function's snapshot, or undefined when it is not registered. */
  functionSnapshot(functionId: string, now = Date.now()) {
    const fn = this.functions.get(functionId);
    return fn ? snapshotFunction(fn, now) : undefined;
  }

  /** Each function's counters and histograms, read-only (the /metrics endpoint). */
  functionStats(): Iterable<{ fn: FunctionView; stats: Readonly<FunctionCounters> }> {
    return [...this.functions.values()].map((fn) => ({ fn, stats: fn.stats }));
  }

  /** Starts a generator call (web requests); see FanOut.startStream. */
  startStream(...a: Parameters<FanOut["startStream"]>): ReturnType<FanOut["startStream"]> {
    return this.fanOut.startStream(...a);
  }

  /** The caller consumed items of a generator call. */
  streamAck(callId: string, consumed: number): void {
    this.fanOut.streamAck(callId, consumed);
  }

  /** The container running a generator call's input, when that input is `inputId`. */
  streamContainer(callId: string, inputId: string): string | undefined {
    const input = this.fanOut.streamInput(callId);
    return input && input.id === inputId ? input.container?.id : undefined;
  }

  /** Whether a call is in memory now (running or queued). */
  isLive(callId: string): boolean {
    return this.calls.has(callId);
  }

  /** Live numbers for `getCurrentStats()`. */
  async stats(functionId: string): Promise<FunctionStats> {
    const fn = await this.lookupFunction(functionId);
    if (!fn) throw new ApiError("not_found", `function ${functionId} is not running`);
    let backlog = 0;
    let active = 0;
    let total = 0;
    for (const c of fn.containers.values()) {
      if (c.status === "dead") continue;
      total++;
      if (c.running.size > 0) active++;
    }
    // Queue entries cancelled while waiting are skipped at dispatch; count only live ones.
    for (const i of this.inputs.values())
      if (i.call.fn === fn && (i.status === "pending" || i.status === "retry_wait")) backlog++;
    return { backlog: backlog + fn.parked, numActiveRunners: active, numTotalRunners: total };
  }
}

/**
 * When an attempt times out (epoch ms). A generator waiting for a slow consumer is not
 * running: the time it has been paused, up to `now`, moves its deadline (while it stays
 * paused, its deadline moves with the clock, and the next check comes when it would be due).
 */
function deadlineOf(ra: RunningAttempt, now: number): number {
  const st = ra.input.call.stream;
  if (!st) return ra.deadline;
  return ra.deadline + st.pausedMs + (st.pausedSince ? now - st.pausedSince : 0);
}
