import {
  type CallOutcome,
  type FunctionStats,
  type InputInfo,
  type LogEntry,
  type MapInputWire,
  newId,
  type OutputWire,
  type Payload,
  type ResultWire,
} from "@skiff/protocol";
import type { TokenService } from "../auth/tokens.js";
import type { WorkerProvider } from "../provider.js";
import { outcomeBlob, payloadBlob } from "../store/blob-refs.js";
import type { BlobStore } from "../store/blobs/blob-store.js";
import type { CallRow, InputRow, Store } from "../store/store.js";
import { Attempts } from "./attempts.js";
import { stopBatching } from "./batching.js";
import { buildCallGraph } from "./call-graph.js";
import { Dispatcher } from "./dispatch.js";
import { EngineError, invalid } from "./engine-error.js";
import { FanOut, type MapSink, type MapStart, type StreamSink, type StreamStart } from "./fan-out.js";
import { Fleet, type VolumeMounter } from "./fleet.js";
import { type FunctionRegistration, FunctionRegistry } from "./function-registry.js";
import { LiveCalls } from "./live-calls.js";
import type { LogHub } from "./log-hub.js";
import { MapResume } from "./map-resume.js";
import {
  type ContainerChannel,
  type ContainerView,
  createdRows,
  type FunctionView,
  type LiveCall,
  type LiveFunction,
  type LiveInput,
} from "./model.js";
import type { FunctionStats as FunctionCounters } from "./observe/function-stats.js";
import { currentStats, sampleLoad } from "./observe/load.js";
import { type EngineSnapshot, snapshotContainers, snapshotFunction, snapshotMaps } from "./observe/snapshot.js";
import { Outcomes } from "./outcomes.js";
import { revokeHeld, stopReclaim } from "./prefetch.js";
import { recoverPending } from "./recovery.js";
import { Retention } from "./retention.js";
import { DEFAULT_RESIDENT_SPAWNS, SpawnPager } from "./spawn-pager.js";
import { resolveTarget } from "./targets.js";

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
/** A class instance with no calls and no containers this long is let go (taken back on its next call). */
const INSTANCE_IDLE_MS = 5 * 60_000;
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
 * The engine's front door, and the only way in for the server, the API, the gateway and the app
 * service. It keeps the table of live calls (admission, cancel, completion), and wires together
 * the parts that do the rest, each through a narrow host interface: function-registry.ts (who
 * is known), dispatch.ts (queues, hand-out), attempts.ts (deadlines, timeouts, retries),
 * fleet.ts (containers, scaling), fan-out.ts (maps, generators), outcomes.ts (waiting),
 * spawn-pager.ts (parked spawns) and recovery.ts (after a restart). All scheduling state lives
 * in memory; the store holds what must survive a restart.
 */
export class Engine {
  /** The current minute, advanced on each tick: stats recording reads no clock of its own. */
  private readonly clock = { minute: Math.floor(Date.now() / 60_000) };
  /** Registered functions. Outside the engine, read them through `functionView`/`liveFunctions`. */
  private readonly functions = new FunctionRegistry(this.clock);
  /** Calls and inputs in memory, and the live calls' idempotency keys. */
  private readonly live: LiveCalls;
  /** The containers, and their scaling. Outside the engine, reached through the methods below. */
  private readonly fleet: Fleet;
  /** Maps and generator calls. */
  private readonly fanOut: FanOut;
  /** Attempts on containers: deadlines, timeouts, retries. */
  private readonly attempts: Attempts;
  /** Each function's queue and its hand-out to containers. */
  private readonly dispatcher: Dispatcher;
  /** Spawned calls waiting in the store beyond each function's resident limit. */
  private readonly pager: SpawnPager;
  /** Who hears each call's outcome; `.remote` outcomes delivered a moment ago. */
  private readonly outcomes: Outcomes;
  private readonly tickTimer: NodeJS.Timeout;
  private readonly retention: Retention;
  private closed = false;

  constructor(private readonly o: EngineOptions) {
    this.live = new LiveCalls({
      store: o.store,
      mapEnded: (call) => {
        const m = call.map;
        if (!m) return;
        if (m.detached) clearTimeout(m.detached);
        this.fanOut.resume.ended(call.id);
        // Results still waiting for this tick's flush go out first.
        setImmediate(() => m.onDone());
      },
    });
    this.attempts = new Attempts({
      store: o.store,
      killGraceMs: o.killGraceMs ?? 2000,
      log: o.log,
      killContainer: (c, why) => this.fleet.killContainer(c, why),
      enqueue: (input) => this.dispatcher.enqueue(input),
      finishInput: (input, result, ms) => this.finishInput(input, result, ms),
      persisted: (call) => this.live.persisted(call),
    });
    this.fleet = new Fleet(o, {
      functions: this.functions,
      dispatch: (fn) => this.dispatcher.dispatch(fn),
      enqueue: (input, front) => this.dispatcher.enqueue(input, front),
      finishInput: (input, result, ms) => this.finishInput(input, result, ms),
      attemptFailed: (input, result, ms) => this.attempts.failed(input, result, ms),
      slotStarted: (c, ra) => this.attempts.slotStarted(c, ra),
      streamItems: (input, items) => this.fanOut.streamItems(input, items),
      isClosed: () => this.closed,
    });
    this.dispatcher = new Dispatcher({ inputs: this.live.inputs, attempts: this.attempts, fleet: this.fleet });
    this.fanOut = new FanOut(
      {
        calls: this.live.calls,
        inputs: this.live.inputs,
        containers: this.fleet.containers,
        liveFunction: (id) => this.functions.live(id),
        newCall: (fn, parent, extra) => this.live.newCall(fn, parent, extra),
        newInput: (call, idx, args, now) => this.live.newInput(call, idx, args, undefined, now),
        track: (call) => this.live.track(call),
        untrack: (call) => this.live.untrack(call),
        enqueue: (input) => this.dispatcher.enqueue(input),
        startInput: (input) => this.dispatcher.startInput(input),
        dispatch: (fn) => this.dispatcher.dispatch(fn),
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
    this.outcomes = new Outcomes({
      store: o.store,
      calls: this.live.calls,
      pager: this.pager,
      lookupFunction: (id) => this.functions.lookup(id),
      untrack: (call) => this.live.untrack(call),
    });
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
  registerFunction(f: FunctionRegistration): FunctionView {
    const existing = this.functions.get(f.id);
    if (existing) {
      this.functions.update(existing, f);
      // Old-version containers finish what they run, then go.
      for (const c of existing.containers.values()) if (c.version !== f.version) this.fleet.drain(c);
      this.fleet.scale(existing);
      return existing;
    }
    const fn = this.functions.add(f);
    this.fleet.scale(fn);
    return fn;
  }

  /** Stops a function (and a class's instances): pending inputs end as terminated, containers are shut down. */
  unregisterFunction(functionId: string, reason: string): void {
    const fn = this.functions.get(functionId);
    if (!fn) return;
    for (const other of this.functions.instancesOf(functionId)) this.unregisterFunction(other.id, reason);
    fn.live = false;
    stopBatching(fn);
    stopReclaim(fn);
    if (fn.retryScaleTimer) clearTimeout(fn.retryScaleTimer);
    for (const input of fn.queue.drain()) this.finishInput(input, { status: "terminated", message: reason });
    for (const input of this.live.inputs.values()) {
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
    const fn = this.functions.live(p.functionId);
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
    const call = this.live.newCall(fn, p.parentInputId, {
      kind: p.kind,
      idempotencyKey: p.idempotencyKey,
      method: p.method,
    });
    const input = this.live.newInput(call, 0, p.args);
    call.inputs.push(input);
    this.live.track(call);
    // A `.remote` call is held in memory only: its caller holds the input too and resends it
    // (same idempotency key) after a reconnect, so a crash loses nothing. It is written only
    // if something must outlive it here: a retry's state, or a result its caller left behind.
    if (call.kind === "remote") call.deferred = "held";
    else {
      this.o.store.insertCall(...createdRows(call));
      this.pager.added(fn);
    }
    this.dispatcher.enqueue(input);
    return { callId: call.id, existing: false };
  }

  /** A call with this idempotency key that memory knows of (live, or delivered a moment ago). */
  private knownCall(key: string): { callId: string; existing: true; outcome?: CallOutcome } | undefined {
    const live = this.live.byKey(key);
    if (live) return { callId: live, existing: true };
    return this.outcomes.recent(key);
  }

  /**
   * Finds functions that are not in memory: a class instance let go while idle is taken back
   * on its next call (set by the app service, which knows the instances).
   */
  setFunctionResolver(resolve: (functionId: string) => Promise<FunctionView | undefined>): void {
    this.functions.setResolver(resolve);
  }

  /** Brings a function that is not in memory (an idle class instance) back, if it exists. */
  load(functionId: string): Promise<void> {
    return this.functions.load(functionId);
  }

  /**
   * Waits for a call's outcome (outcomes.ts). Resolves undefined when `timeoutMs` passes first.
   * @throws EngineError not_found for an unknown call id.
   */
  awaitCall(
    callId: string,
    timeoutMs: number | undefined,
    onGone?: (cancel: () => void) => void,
  ): Promise<CallOutcome | undefined> {
    return this.outcomes.await(callId, timeoutMs, onGone);
  }

  async cancelCall(callId: string, terminateContainers: boolean): Promise<void> {
    let call = this.live.calls.get(callId);
    if (!call) {
      const { stored, fn } = await this.outcomes.read(callId);
      call = this.live.calls.get(callId); // paged in while the store was read
      if (!call) {
        if (!stored) throw new EngineError("not_found", `no function call ${callId}`);
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
          else if (!ra.queued) this.attempts.killAfterGrace(c, ra);
        }
      }
      if (input.attemptOpen) this.attempts.end(input, "cancelled");
      this.live.inputDone(input);
      if (input.graph) this.o.store.updateGraphInput(input.id, null, "terminated");
    }
    if (call.map) this.live.untrack(call);
    else this.completeCall(call, { kind: "cancelled" });
  }

  /**
   * The container gave back inputs it had not started (asked by reclaim): they go to the front
   * of the queue, as they were, for an idle container (dispatch.ts).
   */
  containerReturned(containerId: string, items: { inputId: string; attempt: number }[]): void {
    const c = this.fleet.containers.get(containerId);
    if (c) this.dispatcher.returned(c, items); // gone: what it held was queued again already
  }

  /** `durationMs`: how long its last attempt ran, as its container measured it (NaN when unknown). */
  private finishInput(input: LiveInput, result: ResultWire, durationMs = Number.NaN): void {
    if (input.status === "done") return;
    if (input.attemptOpen) this.attempts.end(input, result.status);
    // The container's own measure: no clock read here, once per input at 100k inputs/s.
    input.call.fn.stats.finished(result.status === "success", durationMs);
    this.live.inputDone(input);
    if (input.graph)
      this.o.store.updateGraphInput(input.id, null, result.status === "success" ? "success" : result.status);
    const call = input.call;
    if (call.map) {
      this.fanOut.mapResult(call, call.map, input, result);
      return;
    }
    if (call.stream) {
      call.stream.sink([], result);
      this.live.untrack(call);
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
      this.outcomes.delivered(call, outcome);
      return;
    }
    this.live.persisted(call);
    this.o.store.completeCall(call.id, state, outcome, now, now + ttl);
    if (waiters !== undefined) for (const w of waiters) w(outcome);
    this.live.untrack(call); // the store answers later gets
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
    for (const i of this.live.inputs.values()) add(payloadBlob(i.args));
    for (const c of this.live.calls.values()) if (c.outcome) add(outcomeBlob(c.outcome));
    this.outcomes.blobsInUse(out);
    return out;
  }

  /** Scale-down, retention and log trimming, every TICK_MS. */
  private tick(): void {
    const now = Date.now();
    this.clock.minute = Math.floor(now / 60_000);
    for (const fn of this.functions.values()) sampleLoad(fn);
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
    this.live.track(call);
    if (call.kind === "spawn") this.pager.added(fn);
    for (const r of inputs) {
      const input = this.live.newInput(call, r.idx, r.args, r.id);
      input.attempt = r.attempt;
      input.failures = r.failures;
      call.inputs.push(input);
      if (r.state === "done") input.status = "done";
      else fn.queue.push(input);
    }
    if (dispatch) this.dispatcher.dispatch(fn);
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

  /** Re-queues calls that were pending when the server stopped (recovery.ts). */
  async recover(): Promise<number> {
    this.fanOut.resume.afterRestart();
    const n = await recoverPending({
      store: this.o.store,
      resultRetentionMs: this.o.resultRetentionMs,
      lookupFunction: (id) => this.functions.lookup(id),
      shouldPark: (fn) => this.pager.shouldPark(fn),
      revive: (fn, row, inputs) => this.revive(fn, row, inputs, false),
    });
    for (const fn of this.functions.values()) {
      await this.pager.pageIn(fn); // fill up to the resident limit, oldest parked first
      this.dispatcher.dispatch(fn);
    }
    return n;
  }

  /**
   * A graceful stop begins: no queued input starts from now on; running ones finish. Resolves
   * once none runs, or when `graceMs` passes first (those still running run again after the
   * next start: spawned calls are in the store, callers of .remote and maps send theirs again).
   */
  async drain(graceMs: number): Promise<{ running: number }> {
    this.dispatcher.drain();
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
  private runningInputs(): number {
    let n = 0;
    for (const c of this.fleet.containers.values()) n += c.running.size;
    return n;
  }

  /** Stops every container; the engine accepts nothing after this. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.tickTimer);
    for (const c of this.fleet.containers.values()) {
      c.channel?.send("shutdown", { graceMs: 1000 });
      c.exitInfo = "server stopped";
    }
    // Maps waiting for their callers: their rows stay, for the next start to take them back.
    for (const call of this.live.calls.values()) if (call.map?.detached) clearTimeout(call.map.detached);
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
    if (graph.length === 0 && !this.live.calls.has(callId) && !(await this.o.store.getCall(callId))) {
      throw new EngineError("not_found", `no function call ${callId}`);
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
    const live = this.live.calls.get(callId);
    if (live) return live.fn;
    const stored = await this.o.store.getCall(callId);
    return stored ? this.functions.lookup(stored.functionId) : undefined;
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
      maps: snapshotMaps(this.live.calls.values()),
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

  // ---- streaming calls (fan-out.ts): generators and maps ----------------------------

  /** Starts a generator call (a client's gen.start, a web request); see FanOut.startStream. */
  startStream(p: StreamStart, sink: StreamSink): { callId: string; window: number } {
    return this.fanOut.startStream(p, sink);
  }

  /** The caller consumed items of a generator call. */
  streamAck(callId: string, consumed: number): void {
    this.fanOut.streamAck(callId, consumed);
  }

  /** Starts a map; see FanOut.startMap. Await `mapsDurable()` before the caller may rely on resuming it. */
  startMap(p: MapStart, sink: MapSink, onDone: () => void): { callId: string; window: number } {
    return this.fanOut.startMap(p, sink, onDone);
  }

  /** Takes a map back on a new connection (map.resume); see FanOut.resumeMap. */
  resumeMap(callId: string, sink: MapSink, onDone: () => void): Promise<{ callId: string; window: number }> {
    return this.fanOut.resumeMap(callId, sink, onDone);
  }

  /** Resolves once the rows of the maps started or taken back so far are durable (map-resume.ts). */
  mapsDurable(): Promise<void> {
    return this.fanOut.resume.durable();
  }

  /** The connection holding a map closed: it waits a while to be taken back; see FanOut.detachMap. */
  detachMap(callId: string, holder: MapSink): void {
    this.fanOut.detachMap(callId, holder);
  }

  /** More inputs of a map. */
  putMapInputs(callId: string, items: MapInputWire[]): void {
    this.fanOut.putMapInputs(callId, items);
  }

  /** More inputs of a map, as columns. */
  putMapInputColumns(callId: string, idxs: number[], args: Payload[]): void {
    this.fanOut.putMapInputColumns(callId, idxs, args);
  }

  /** The caller sent a map's last input: `total` in all. */
  endMap(callId: string, total: number): void {
    this.fanOut.endMap(callId, total);
  }

  // ---- containers (fleet.ts): their connections' events, and who may reach them ---------

  /** A container's connection said hello: it is sent what it runs. */
  containerHello(containerId: string, channel: ContainerChannel): Promise<void> {
    return this.fleet.containerHello(containerId, channel);
  }

  containerReady(containerId: string): void {
    this.fleet.containerReady(containerId);
  }

  containerInitFailed(containerId: string, error: Uint8Array): void {
    this.fleet.containerInitFailed(containerId, error);
  }

  containerOutputs(containerId: string, items: OutputWire[]): void {
    this.fleet.containerOutputs(containerId, items);
  }

  containerOutputColumns(containerId: string, seqs: number[], data: Payload[], durationsMs: number[]): void {
    this.fleet.containerOutputColumns(containerId, seqs, data, durationsMs);
  }

  /** A web request's whole answer in one item (web.answer). */
  containerWebAnswer(containerId: string, seq: number, item: Uint8Array, durationMs: number): void {
    this.fleet.containerWebAnswer(containerId, seq, item, durationMs);
  }

  /** Items a container's generator yielded (gen.items). */
  containerGenItems(containerId: string, inputId: string, attempt: number, items: Payload[]): void {
    this.fanOut.containerGenItems(containerId, inputId, attempt, items);
  }

  /** Log lines a container wrote (its app, function and id are added here). */
  containerLogs(containerId: string, entries: Omit<LogEntry, "appId" | "functionName" | "containerId">[]): void {
    this.fleet.containerLogs(containerId, entries);
  }

  containerDisconnected(containerId: string): void {
    this.fleet.containerDisconnected(containerId);
  }

  /** Where containers mount their volumes (set once, before any container starts). */
  setMounter(m: VolumeMounter): void {
    this.fleet.setMounter(m);
  }

  /** A container by id, read-only (gone once it has stopped). */
  container(containerId: string): ContainerView | undefined {
    return this.fleet.containers.get(containerId);
  }

  /** Every container, read-only. */
  containers(): Iterable<ContainerView> {
    return this.fleet.containers.values();
  }

  /** Tells `listener` of each container that goes, and why. */
  onContainerGone(listener: (c: ContainerView, why: string) => void): void {
    this.fleet.onContainerGone(listener);
  }

  /**
   * Starts a container of a function that takes no inputs (`skiff shell`); resolves once it is
   * ready. @throws EngineError not_found when the function is not running.
   */
  startReserved(functionId: string): Promise<ContainerView> {
    const fn = this.functions.get(functionId);
    if (!fn?.live) return Promise.reject(new EngineError("not_found", `function ${functionId} is not running`));
    return this.fleet.startReserved(fn);
  }

  /** Stops a container now (its inputs run again elsewhere); nothing when it is gone already. */
  killContainer(containerId: string, why: string): void {
    const c = this.fleet.containers.get(containerId);
    if (c) this.fleet.killContainer(c, why);
  }

  /** Stops or starts containers of a function whose scaling limits changed (updateAutoscaler). */
  fitToLimits(functionId: string): void {
    const fn = this.functions.get(functionId);
    if (fn) this.fleet.fitToLimits(fn);
  }

  /** The container running a generator call's input, when that input is `inputId`. */
  streamContainer(callId: string, inputId: string): string | undefined {
    const input = this.fanOut.streamInput(callId);
    return input && input.id === inputId ? input.container?.id : undefined;
  }

  /** Whether a call is in memory now (running or queued). */
  isLive(callId: string): boolean {
    return this.live.calls.has(callId);
  }

  /** Live numbers for `getCurrentStats()`. */
  async stats(functionId: string): Promise<FunctionStats> {
    const fn = await this.functions.lookup(functionId);
    if (!fn) throw new EngineError("not_found", `function ${functionId} is not running`);
    return currentStats(fn, this.live.inputs.values());
  }
}
