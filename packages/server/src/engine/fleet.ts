import { availableParallelism } from "node:os";
import {
  encodePayload,
  type LogEntry,
  newId,
  type OutputWire,
  type Payload,
  type ResultWire,
  type VolumeMountWire,
} from "@skiff/protocol";
import type { ContainerSpec } from "../provider.js";
import { BundleCache } from "./bundle-cache.js";
import type { EngineOptions } from "./engine.js";
import { EngineError } from "./engine-error.js";
import type { ContainerChannel, LiveContainer, LiveFunction, LiveInput, RunningAttempt } from "./model.js";
import { noteOutput, promoteNext, unqueue } from "./prefetch.js";
import { startBackoffMs } from "./retry-policy.js";
import { containersNeeded, noteStartLatency, overdueInputs } from "./scale-need.js";

/** Start failures in a row after which the inputs waiting for the function fail. */
const START_FAILURES_BEFORE_FAILING = 5;
/** Containers lost while running one input before it fails as terminated. */
const MAX_LOST = 5;
/**
 * Containers starting at once, per core (see Fleet.startSlots). A start is mostly CPU (process,
 * sandbox, runtime and bundle load): a hundred at once on two cores share the CPU so evenly that
 * none is ready for seconds; a few per core make the first ones ready early, they take inputs,
 * and the next starts follow only while a backlog is left.
 */
const STARTS_PER_CORE = 2;
/** A function waiting for room on a full host tries again this often even without word of room. */
const ROOM_RETRY_MS = 5000;
/**
 * A bundle up to this size goes to a container's runtime with its assignment (base64 in a JSON
 * line on its stdin), which loads it while its connection to this server opens; a larger one is
 * sent once the runtime has connected (CBOR bytes, no base64 to make and parse at each start).
 */
const EARLY_BUNDLE_MAX_BYTES = 256 * 1024;

/** What placement needs to know of a function's containers to tell whether one fits now. */
function roomNeeds(fn: LiveFunction): Pick<ContainerSpec, "memoryMiB" | "gpu"> {
  const o = fn.spec.options;
  return {
    ...(o.memoryMiB ? { memoryMiB: o.memoryMiB } : {}),
    ...(o.gpu ? { gpu: o.gpu } : {}),
  };
}

/** What the fleet needs from the engine that owns the calls and the queues. */
/** A volume prepared for one container. */
export interface VolumeMount {
  objectId: string;
  hostPath: string;
  mountPath: string;
  readOnly: boolean;
}

/** Prepares the local copies of the volumes a container mounts (objects/volume-mounts.ts). */
export interface VolumeMounter {
  mount(containerId: string, environment: string, volumes: Record<string, VolumeMountWire>): Promise<VolumeMount[]>;
  unmount(containerId: string): void;
}

export interface FleetHost {
  /** The registered functions (function-registry.ts). */
  readonly functions: { values(): Iterable<LiveFunction> };
  dispatch(fn: LiveFunction): void;
  enqueue(input: LiveInput, front?: boolean): void;
  /** `durationMs`: how long the attempt ran, as its container measured it. */
  finishInput(input: LiveInput, result: ResultWire, durationMs?: number): void;
  attemptFailed(input: LiveInput, result: ResultWire, durationMs?: number): void;
  /** An input that waited in `c` (prefetched) took a slot that freed: its timeout clock starts. */
  slotStarted(c: LiveContainer, ra: RunningAttempt): void;
  /** Items of a generator input's current attempt (fan-out.ts streamItems). */
  streamItems(input: LiveInput, items: Payload[]): void;
  isClosed(): boolean;
}

/** How a web request's generator ends when its container answers it whole (`web.answer`). */
const WEB_ENDED: ResultWire = { status: "success", data: encodePayload(undefined, "result") };

/**
 * The containers of every function: starting them through the worker provider (with backoff
 * after start failures), their connection's events, scaling up with demand and down when
 * idle, and replacing lost ones. Inputs they were running go back to the engine.
 */
export class Fleet {
  readonly containers = new Map<string, LiveContainer>();
  /** Reserved containers (`skiff shell`) not ready yet: settled when ready, or when they go. */
  private readonly reservedWaiters = new Map<string, { resolve(c: LiveContainer): void; reject(e: Error): void }>();
  private readonly goneListeners: ((c: LiveContainer, why: string) => void)[] = [];
  /** Containers started and not yet ready or gone (counted against startSlots). */
  private starting = 0;
  /** How many containers may be starting at once, across functions. */
  private readonly startSlots: number;
  /** Functions that wanted more containers while every start slot was taken (bounded by functions). */
  private readonly waitingForSlot = new Set<LiveFunction>();
  /**
   * Functions that wanted a container while every host that fits was full (bounded by
   * functions), each with a fallback timer: they scale again when the provider reports room
   * (a container ended), or after ROOM_RETRY_MS (measured memory can fall without an event).
   */
  private readonly waitingForRoom = new Map<LiveFunction, NodeJS.Timeout>();
  /** Bundles handed to containers lately (a fan-out's starts read one bundle once). */
  private readonly bundles: BundleCache;

  constructor(
    private readonly o: EngineOptions,
    private readonly host: FleetHost,
  ) {
    o.provider.onCapacityFreed?.(() => this.roomFreed());
    this.bundles = new BundleCache((id) => o.blobs.get(id));
    // SKIFF_START_CONCURRENCY: a tuning and benchmark knob; 0 starts every container at once.
    const env = Number(process.env.SKIFF_START_CONCURRENCY ?? Number.NaN);
    const slots = o.startConcurrency ?? (Number.isInteger(env) && env >= 0 ? env : Number.NaN);
    this.startSlots = Number.isNaN(slots)
      ? Math.max(2, STARTS_PER_CORE * availableParallelism())
      : slots === 0
        ? Number.POSITIVE_INFINITY
        : slots;
  }

  /** Starts or stops containers so that capacity follows demand. */
  scale(fn: LiveFunction): void {
    if (!fn.live || this.host.isClosed()) return;
    const o = fn.spec.options;
    let running = 0;
    let live = 0;
    let ready = 0;
    for (const c of fn.containers.values()) {
      if (c.version !== fn.version || c.reserved) continue;
      if (c.status === "starting" || c.status === "ready") live++;
      if (c.status === "ready") ready++;
      running += c.running.size;
    }
    const demand = fn.queue.length + running;
    const now = Date.now();
    // One slot per input, or fewer where the containers up take the work first (engine/scale-need.ts).
    const { needed, recheckMs } = containersNeeded(fn, { demand, live, ready }, (ms) => overdueInputs(fn, ms, now));
    if (recheckMs !== undefined) this.rescaleAfter(fn, recheckMs);
    const desired = Math.min(
      o.maxContainers,
      Math.max(o.minContainers, needed) + (demand > 0 ? o.bufferContainers : 0),
    );
    if (desired <= live) return;
    if (this.o.provider.hasRoom && !this.o.provider.hasRoom(roomNeeds(fn))) {
      // The host (or every worker that fits) is at capacity: the inputs wait in the queue.
      this.waitForRoom(fn);
      return;
    }
    if (now < fn.nextStartAt) {
      this.rescaleAfter(fn, fn.nextStartAt - now);
      return;
    }
    for (let i = live; i < desired; i++) {
      if (this.starting >= this.startSlots) {
        // Rescaled when a start slot frees (slotFreed): by then ready containers may have
        // taken part of the backlog, and fewer new ones are needed.
        this.waitingForSlot.add(fn);
        return;
      }
      this.startContainer(fn);
    }
  }

  /** Scales `fn` again after `ms` (one such timer a function; cleared when it goes). */
  private rescaleAfter(fn: LiveFunction, ms: number): void {
    if (fn.retryScaleTimer) return;
    fn.retryScaleTimer = setTimeout(() => {
      fn.retryScaleTimer = undefined;
      this.scale(fn);
    }, ms);
    fn.retryScaleTimer.unref();
  }

  /** Scales `fn` again once a host has room (or after ROOM_RETRY_MS). */
  private waitForRoom(fn: LiveFunction): void {
    if (this.waitingForRoom.has(fn)) return;
    this.evictIdleFor(fn);
    const t = setTimeout(() => {
      this.waitingForRoom.delete(fn);
      this.scale(fn);
    }, ROOM_RETRY_MS);
    t.unref();
    this.waitingForRoom.set(fn, t);
  }

  /**
   * A function with no container of its own cannot work through its queue while idle
   * containers of other functions fill the host (they would stay until their scale-down
   * window, or for ever at minContainers): the one idle longest, above its function's
   * minContainers, stops to make room. One per wait: its exit frees room, and the function
   * asks again if that was not enough.
   */
  private evictIdleFor(fn: LiveFunction): void {
    for (const c of fn.containers.values())
      if (!c.reserved && (c.status === "starting" || c.status === "ready")) return; // it has one: it progresses
    const needs = roomNeeds(fn);
    // Stopping a container frees room only where fn could run at all (a GPU function gains
    // nothing from a CPU-only worker's room).
    const helps = (c: LiveContainer) =>
      !this.o.provider.couldRunOn || (c.host !== undefined && this.o.provider.couldRunOn(c.host, needs));
    let victim: LiveContainer | undefined;
    for (const c of this.containers.values()) {
      if (c.fn === fn || c.reserved || c.status !== "ready" || c.running.size > 0 || c.fn.queue.length > 0) continue;
      if (!helps(c)) continue;
      if (victim && victim.idleSince <= c.idleSince) continue;
      let live = 0;
      for (const o of c.fn.containers.values())
        if (!o.reserved && (o.status === "ready" || o.status === "starting")) live++;
      if (live > c.fn.spec.options.minContainers) victim = c;
    }
    if (!victim) return;
    this.o.log(
      `host full: stopping an idle container of ${victim.fn.appName}.${victim.fn.name} to make room for ${fn.appName}.${fn.name}`,
    );
    this.stopContainer(victim);
  }

  /** The provider says room may have appeared: functions waiting for it scale again. */
  roomFreed(): void {
    if (this.waitingForRoom.size === 0) return;
    const waiting = [...this.waitingForRoom];
    this.waitingForRoom.clear();
    for (const [fn, t] of waiting) {
      clearTimeout(t);
      this.scale(fn);
    }
  }

  /** A counted start ended (ready or gone): functions waiting for a slot try again. */
  private slotFreed(c: LiveContainer): void {
    if (!c.countedStarting) return;
    c.countedStarting = false;
    this.starting--;
    if (this.waitingForSlot.size === 0) return;
    const waiting = [...this.waitingForSlot];
    this.waitingForSlot.clear();
    // Deferred: the caller is mid-way through its own bookkeeping.
    queueMicrotask(() => {
      for (const fn of waiting) this.scale(fn);
    });
  }

  private mounter: VolumeMounter | undefined;

  /** Set by the server: prepares the volumes a container mounts, and drops them when it ends. */
  setMounter(m: VolumeMounter): void {
    this.mounter = m;
  }

  /**
   * A container of `fn` for `skiff shell`: the function's sandbox, env and secrets, but no
   * inputs and not counted by scaling. Resolves once it is ready.
   */
  startReserved(fn: LiveFunction): Promise<LiveContainer> {
    return new Promise((resolve, reject) => {
      const c = this.startContainer(fn, true);
      if (c.status === "dead") reject(new EngineError("unavailable", c.exitInfo ?? "the container could not start"));
      else this.reservedWaiters.set(c.id, { resolve, reject });
    });
  }

  /** Calls `fn` whenever a container is gone (exec sessions end with it). */
  onContainerGone(fn: (c: LiveContainer, why: string) => void): void {
    this.goneListeners.push(fn);
  }

  private startContainer(fn: LiveFunction, reserved = false): LiveContainer {
    const id = newId("ct");
    const c: LiveContainer = {
      id,
      fn,
      version: fn.version,
      status: "starting",
      handle: undefined,
      channel: undefined,
      running: new Map(),
      nextSeq: 0,
      idleSince: Date.now(),
      startedAt: Date.now(),
      readyAt: 0,
      inputsServed: 0,
      startupTimer: undefined,
      stopTimer: undefined,
      deadlineTimer: undefined,
      deadlineAt: 0,
      exitInfo: undefined,
      stoppedOnPurpose: false,
      reserved,
      countedStarting: !reserved,
      queued: 0,
      queuedBytes: 0,
      prefetchPaused: false,
    };
    if (!reserved) this.starting++;
    this.containers.set(id, c);
    fn.containers.set(id, c);
    fn.stats.coldStart();
    // Counted as starting at once (scaling sees it) while its secrets are read.
    const volumes = fn.spec.options.volumes;
    const mounts =
      volumes && Object.keys(volumes).length > 0 && this.mounter
        ? this.mounter.mount(id, fn.environment, volumes)
        : Promise.resolve([]);
    // A shell container runs no function code: its runtime is not given the bundle early.
    const early = reserved ? undefined : this.bundles.get(fn.bundleBlobId).catch(() => undefined);
    Promise.all([this.containerEnv(fn), mounts, early]).then(
      ([env, m, bundle]) => {
        c.mounts = m;
        const given = bundle && bundle.byteLength <= EARLY_BUNDLE_MAX_BYTES ? bundle : undefined;
        if (c.status !== "dead" && !this.host.isClosed()) this.launch(c, env, given);
        else this.mounter?.unmount(id);
      },
      (err: Error) => {
        c.exitInfo = err.message;
        this.containerGone(c, err.message, true);
        if (!reserved) this.failQueued(fn, err.message);
      },
    );
    return c;
  }

  private launch(c: LiveContainer, env: Record<string, string>, bundle?: Uint8Array): void {
    const { fn, id, reserved } = c;
    const token = this.o.tokens.createContainerToken(id);
    const spec: ContainerSpec = {
      containerId: id,
      token: `${token.tokenId}:${token.tokenSecret}`,
      appId: fn.appId,
      appName: fn.appName,
      functionId: fn.id,
      functionName: fn.name,
      environment: fn.environment,
      controlSocket: this.o.controlSocket,
      env,
      blockNetwork: fn.spec.options.blockNetwork,
      ...(fn.spec.options.memoryMiB ? { memoryMiB: fn.spec.options.memoryMiB } : {}),
      ...(fn.spec.options.cpu ? { cpu: fn.spec.options.cpu } : {}),
      ...(fn.spec.options.gpu ? { gpu: fn.spec.options.gpu } : {}),
      ...(fn.spec.options.imageKey ? { imageKey: fn.spec.options.imageKey } : {}),
      bundleBlobId: fn.bundleBlobId,
      ...(bundle ? { bundle, preloadBundle: true } : {}),
      ...(c.mounts && c.mounts.length > 0
        ? {
            mounts: c.mounts.map((m) => ({
              hostPath: m.hostPath,
              mountPath: m.mountPath,
              readOnly: m.readOnly,
              volumeId: m.objectId,
            })),
          }
        : {}),
    };
    // The startup timeout runs from placement: waiting for a worker that fits is the
    // placement timeout's business.
    const armStartup = () => {
      if (c.startupTimer || c.status !== "starting") return;
      c.startupTimer = setTimeout(() => {
        if (c.status === "starting") {
          const msg = `container did not start within ${fn.spec.options.startupTimeoutMs / 1000}s (startupTimeoutMs)`;
          if (!reserved) this.failQueued(fn, msg);
          this.killContainer(c, msg);
        }
      }, fn.spec.options.startupTimeoutMs);
    };
    this.o.provider
      .start(spec, {
        onOutput: (stream, text) =>
          this.o.logs.append([
            {
              ts: Date.now(),
              appId: fn.appId,
              functionName: fn.name,
              containerId: id,
              stream,
              text,
            },
          ]),
        onExit: (code, signal, why) =>
          this.containerGone(c, why ?? (signal ? `killed by ${signal}` : `exited with code ${code}`), false),
        onPlaced: (host) => {
          c.host = host;
          armStartup();
        },
      })
      .then(
        (handle) => {
          c.handle = handle;
          armStartup();
          if (c.status === "dead") handle.kill();
        },
        (err: Error) => {
          if (err.name === "CapacityError" && !reserved) {
            // Every host that fits is full: not a failure of the function's containers; its
            // running ones work through the queue, and scaling tries again in a while.
            // (Several starts can see room at once; those that lose the race end here.)
            c.stoppedOnPurpose = true;
            this.waitForRoom(fn);
            this.containerGone(c, err.message, true);
            return;
          }
          this.o.log(`starting a container for ${fn.appName}.${fn.name} failed: ${err.message}`);
          // No host could ever run it (a GPU no worker has): the waiting calls fail with what it
          // needs, unless containers of the function are there to take them.
          if (err.name === "PlacementError" && !reserved) {
            c.stoppedOnPurpose = true;
            const others = [...fn.containers.values()].some((o) => o !== c && !o.reserved && o.status !== "dead");
            if (!others) this.failQueued(fn, err.message);
          }
          this.containerGone(c, `could not start: ${err.message}`, false);
        },
      );
  }

  /** Function env, then named secrets, then inline secrets. */
  private async containerEnv(fn: LiveFunction): Promise<Record<string, string>> {
    const env: Record<string, string> = { ...fn.spec.options.env };
    for (const name of fn.spec.options.secretNames) {
      const values = await this.o.store.getSecret(fn.environment, name);
      if (!values)
        throw new Error(
          `secret "${name}" does not exist in environment "${fn.environment}": create it with \`skiff secret create ${name} KEY=VALUE\``,
        );
      Object.assign(env, values);
    }
    Object.assign(env, fn.spec.options.inlineSecrets);
    return env;
  }

  /** Fails every queued input of a function with an init error (the container cannot start). */
  failQueued(fn: LiveFunction, message: string, error?: Uint8Array): void {
    const err = error ?? encodePayload(Object.assign(new Error(message), { name: "InitError" }), "error");
    for (const input of fn.queue.drain()) {
      if (input.status === "pending") this.host.finishInput(input, { status: "init_failure", error: err });
    }
  }

  /** The runtime connected: what it should load. */
  async containerHello(containerId: string, channel: ContainerChannel): Promise<void> {
    const c = this.containers.get(containerId);
    if (!c || c.status === "dead") throw new EngineError("not_found", `no container ${containerId}`);
    c.channel = channel;
    const remote = c.host !== undefined && c.host !== "local";
    // Not sent again where the runtime had it with its assignment (a worker's, or this host's
    // for a small bundle): it is loading it already.
    const given = remote || c.handle?.bundleGiven === true;
    const bundle = given ? new Uint8Array(0) : await this.bundles.get(c.fn.bundleBlobId);
    if ((c.status as LiveContainer["status"]) === "dead")
      throw new EngineError("not_found", `container ${containerId} stopped while starting`);
    if (!bundle) throw new EngineError("internal", `bundle ${c.fn.bundleBlobId} is missing`);
    const appFunctions = [...this.host.functions.values()]
      .filter((f) => f.appId === c.fn.appId && f.live && f.baseId === undefined)
      .map((f) => ({
        functionId: f.id,
        appId: f.appId,
        appName: f.appName,
        name: f.name,
        isGenerator: f.spec.isGenerator,
        ...(f.spec.cls ? { cls: f.spec.cls } : {}),
      }));
    // A remote worker handed its container the bundle (fetched by content id, cached, verified).
    channel.send("container.assign", {
      appId: c.fn.appId,
      appName: c.fn.appName,
      functionId: c.fn.id,
      functionName: c.fn.name,
      ...(given ? {} : { bundle }),
      bundleBlobId: c.fn.bundleBlobId,
      maxInputs: c.fn.spec.options.maxInputs,
      ...(c.fn.spec.options.threads !== undefined ? { threads: c.fn.spec.options.threads } : {}),
      appFunctions,
      ...(c.fn.params ? { params: c.fn.params } : {}),
      ...(c.reserved ? { shell: true } : {}),
      ...(c.mounts?.some((m) => !m.readOnly)
        ? {
            volumes: c.mounts.filter((m) => !m.readOnly).map((m) => ({ objectId: m.objectId, mountPath: m.mountPath })),
          }
        : {}),
    });
  }

  containerReady(containerId: string): void {
    const c = this.containers.get(containerId);
    if (c?.status !== "starting") return;
    if (c.startupTimer) clearTimeout(c.startupTimer);
    c.status = "ready";
    c.idleSince = Date.now();
    c.readyAt = c.idleSince;
    this.slotFreed(c);
    if (c.reserved) {
      this.reservedWaiters.get(c.id)?.resolve(c);
      this.reservedWaiters.delete(c.id);
      return;
    }
    c.fn.startFailures = 0;
    c.fn.nextStartAt = 0;
    noteStartLatency(c.fn, c.readyAt - c.startedAt);
    if (c.version !== c.fn.version || !c.fn.live) this.drain(c);
    else this.host.dispatch(c.fn);
  }

  containerInitFailed(containerId: string, error: Uint8Array): void {
    const c = this.containers.get(containerId);
    if (!c) return;
    const fn = c.fn;
    this.failQueued(fn, "init failed", error);
    this.noteStartFailure(fn);
    this.killContainer(c, "init failed");
  }

  private noteStartFailure(fn: LiveFunction): void {
    fn.startFailures++;
    fn.nextStartAt = Date.now() + startBackoffMs(fn.startFailures);
  }

  containerOutputs(containerId: string, items: OutputWire[]): void {
    const c = this.containers.get(containerId);
    if (!c) return;
    const receivedAt = performance.now();
    for (const out of items)
      if (typeof out.seq === "number") this.output(c, out.seq, out.result, out.durationMs, receivedAt);
    this.outputsDone(c);
  }

  /** Successful outputs as columns (`outputs.cols`): the same as containerOutputs. */
  containerOutputColumns(containerId: string, seqs: number[], data: Payload[], durationsMs: number[]): void {
    const c = this.containers.get(containerId);
    if (!c) return;
    const receivedAt = performance.now();
    for (let i = 0; i < seqs.length; i++)
      this.output(c, seqs[i]!, { status: "success", data: data[i]! }, durationsMs[i], receivedAt);
    this.outputsDone(c);
  }

  /**
   * A web request's whole answer (`web.answer`): its one item, then its output, as if
   * `gen.items` and `outputs.cols` had come for it in one frame (they come so otherwise).
   */
  containerWebAnswer(containerId: string, seq: number, item: Uint8Array, durationMs: number): void {
    const c = this.containers.get(containerId);
    if (!c) return;
    const ra = c.running.get(seq);
    const input = ra?.input;
    if (input && !ra.timedOut && input.status === "running" && input.attempt === ra.attempt && input.container === c)
      this.host.streamItems(input, [item]);
    this.output(c, seq, WEB_ENDED, durationMs, performance.now());
    this.outputsDone(c);
  }

  /** The output of the attempt handed to `c` as number `seq`. */
  private output(c: LiveContainer, seq: unknown, result: ResultWire, durationMs: unknown, receivedAt: number): void {
    const ra = c.running.get(seq as number);
    if (!ra) return; // duplicate or unknown: dropped
    c.running.delete(ra.seq);
    c.inputsServed++;
    if (ra.killTimer) clearTimeout(ra.killTimer);
    const input = ra.input;
    if (ra.queued)
      unqueue(c, ra); // answered while it waited (cancelled): no slot freed
    else {
      // Its slot freed: the container started the next input waiting in it (engine/prefetch.ts).
      const next = promoteNext(c);
      if (next) this.host.slotStarted(c, next);
      c.prefetchPaused = false;
    }
    // How long inputs take, and their turnaround, size the prefetch (engine/prefetch.ts).
    noteOutput(c.fn, ra, durationMs, receivedAt);
    if (ra.timedOut || input.status !== "running" || input.attempt !== ra.attempt) return;
    const ms = typeof durationMs === "number" ? durationMs : Number.NaN;
    if (result.status === "failure") this.host.attemptFailed(input, result, ms);
    else this.host.finishInput(input, result, ms);
  }

  private outputsDone(c: LiveContainer): void {
    if (c.running.size === 0) {
      c.idleSince = Date.now();
      if (c.status === "draining") this.stopContainer(c);
    }
    this.host.dispatch(c.fn);
  }

  containerLogs(containerId: string, entries: Omit<LogEntry, "appId" | "functionName" | "containerId">[]): void {
    const c = this.containers.get(containerId);
    if (!c) return;
    this.o.logs.append(entries.map((e) => ({ ...e, appId: c.fn.appId, functionName: c.fn.name, containerId })));
  }

  /** The container's connection closed: it is as good as gone. */
  containerDisconnected(containerId: string): void {
    const c = this.containers.get(containerId);
    if (!c || c.status === "dead") return;
    this.killContainer(c, "its connection closed");
  }

  drain(c: LiveContainer): void {
    if (c.status === "dead" || c.status === "draining") return;
    c.stoppedOnPurpose = true;
    c.status = "draining";
    if (c.running.size === 0) this.stopContainer(c);
  }

  stopContainer(c: LiveContainer): void {
    if (c.status === "dead" || c.stopTimer) return;
    c.status = "draining";
    c.stoppedOnPurpose = true;
    c.channel?.send("shutdown", { graceMs: 5000 });
    c.stopTimer = setTimeout(() => this.killContainer(c, "did not exit after shutdown"), 10_000);
    c.stopTimer.unref();
  }

  killContainer(c: LiveContainer, why: string): void {
    if (c.status === "dead") return;
    c.exitInfo = why;
    c.handle?.kill();
    // The provider's onExit finishes the bookkeeping; without a handle, do it now.
    if (!c.handle) this.containerGone(c, why, false);
    else c.channel?.close(1000, why);
  }

  /** A container is gone: its unfinished inputs go back to the queue, not using up retries. */
  private containerGone(c: LiveContainer, why: string, quiet: boolean): void {
    if (c.status === "dead") return;
    const wasStarting = c.status === "starting";
    c.status = "dead";
    this.slotFreed(c);
    if (c.startupTimer) clearTimeout(c.startupTimer);
    if (c.stopTimer) clearTimeout(c.stopTimer);
    if (c.deadlineTimer) clearTimeout(c.deadlineTimer);
    this.containers.delete(c.id);
    c.fn.containers.delete(c.id);
    this.o.tokens.revokeContainerToken(c.id);
    if (c.mounts) this.mounter?.unmount(c.id);
    const reason = c.exitInfo ? `${why}; ${c.exitInfo}` : why;
    // Its connection may outlive it (a worker cut off the network): nothing more is taken from it.
    c.channel?.close(1000, reason.slice(0, 100));
    const waiter = this.reservedWaiters.get(c.id);
    this.reservedWaiters.delete(c.id);
    waiter?.reject(new EngineError("unavailable", `the shell's container stopped before it was ready (${reason})`));
    for (const l of this.goneListeners) l(c, reason);
    if (!quiet && c.running.size > 0)
      this.o.log(
        `container ${c.id} (${c.fn.appName}.${c.fn.name}) is gone (${reason}): re-queueing ${c.running.size} input(s)`,
      );
    for (const ra of c.running.values()) {
      if (ra.killTimer) clearTimeout(ra.killTimer);
      const input = ra.input;
      if (ra.timedOut || input.status !== "running" || input.attempt !== ra.attempt) continue;
      // One that waited in it (prefetched) never ran there: its loss does not count against it.
      if (!ra.queued) input.lost++;
      if ((input.call.stream?.yielded ?? 0) > 0) {
        this.host.finishInput(input, {
          status: "terminated",
          message: `the container running this generator stopped after it yielded (${reason})`,
        });
      } else if (input.lost >= MAX_LOST) {
        this.host.finishInput(input, {
          status: "terminated",
          message: `the container running this input stopped ${input.lost} times (last: ${reason})`,
        });
      } else this.host.enqueue(input, true);
    }
    c.running.clear();
    c.queued = 0;
    c.queuedBytes = 0;
    if (wasStarting && !c.stoppedOnPurpose && !c.reserved) {
      this.noteStartFailure(c.fn);
      // Containers that keep dying before they are ready: tell the waiting callers, not just retry.
      if (c.fn.startFailures >= START_FAILURES_BEFORE_FAILING) {
        this.failQueued(
          c.fn,
          `containers of ${c.fn.appName}.${c.fn.name} keep exiting before they start (last: ${reason})`,
        );
      }
    }
    if (c.fn.live) this.host.dispatch(c.fn);
  }

  /**
   * After a live change of the scaling limits (`updateAutoscaler`): containers above the new
   * maxContainers go now, idle ones first, busy ones once they finish; a raised minimum or
   * buffer starts containers.
   */
  fitToLimits(fn: LiveFunction): void {
    const live = [...fn.containers.values()].filter(
      (c) => !c.reserved && (c.status === "ready" || c.status === "starting"),
    );
    let excess = live.length - fn.spec.options.maxContainers;
    const idleFirst = live.sort((a, b) => a.running.size - b.running.size);
    for (const c of idleFirst) {
      if (excess <= 0) break;
      if (c.status === "starting") {
        c.stoppedOnPurpose = true;
        this.killContainer(c, "above maxContainers after updateAutoscaler");
      } else this.drain(c);
      excess--;
    }
    this.scale(fn);
  }

  /** Stops idle containers past their scale-down window, keeping minContainers. */
  scaleDown(now: number): void {
    for (const fn of this.host.functions.values()) {
      const o = fn.spec.options;
      let live = 0;
      for (const c of fn.containers.values())
        if (!c.reserved && (c.status === "ready" || c.status === "starting")) live++;
      for (const c of fn.containers.values()) {
        if (live <= o.minContainers) break;
        if (
          !c.reserved &&
          c.status === "ready" &&
          c.running.size === 0 &&
          fn.queue.length === 0 &&
          now - c.idleSince >= o.scaledownWindowMs
        ) {
          this.stopContainer(c);
          live--;
        }
      }
    }
  }
}
