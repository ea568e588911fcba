import type { FunctionSpec } from "@skiff/protocol";
import { Deque } from "./deque.js";
import { EngineError } from "./engine-error.js";
import type { LiveFunction } from "./model.js";
import { FunctionStats as FunctionCounters } from "./observe/function-stats.js";
import { RunTimes } from "./run-times.js";

/** What a function is registered with (a deploy, a redeploy, a class instance bound). */
export interface FunctionRegistration {
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
}

/**
 * The functions the engine knows, by id; a class instance is a function of its own, with the
 * class's id as `baseId`. An instance idle for a while leaves memory and is taken back on its
 * next call through the resolver the app service sets (`load`). What registering a function
 * starts or stops (containers, queued inputs) is the engine's: this holds only who is known.
 */
export class FunctionRegistry {
  private readonly byId = new Map<string, LiveFunction>();
  private resolver: ((functionId: string) => Promise<unknown>) | undefined;

  /** `clock`: the engine's current minute, which each function's counters read. */
  constructor(private readonly clock: { minute: number }) {}

  get(functionId: string): LiveFunction | undefined {
    return this.byId.get(functionId);
  }

  has(functionId: string): boolean {
    return this.byId.has(functionId);
  }

  values(): IterableIterator<LiveFunction> {
    return this.byId.values();
  }

  /** A class's instances in memory. */
  instancesOf(functionId: string): LiveFunction[] {
    return [...this.byId.values()].filter((f) => f.baseId === functionId);
  }

  /** A new function's state, idle: no queue, no containers. */
  add(f: FunctionRegistration): LiveFunction {
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
    this.byId.set(fn.id, fn);
    return fn;
  }

  /** A known function moved to a new version (a redeploy): live again, its start failures forgotten. */
  update(fn: LiveFunction, f: FunctionRegistration): void {
    fn.appName = f.appName;
    fn.version = f.version;
    fn.spec = f.spec;
    fn.bundleBlobId = f.bundleBlobId;
    fn.live = true;
    fn.startFailures = 0;
    fn.nextStartAt = 0;
  }

  delete(functionId: string): void {
    this.byId.delete(functionId);
  }

  /** Finds functions that are not in memory (set by the app service, which knows the class instances). */
  setResolver(resolve: (functionId: string) => Promise<unknown>): void {
    this.resolver = resolve;
  }

  /** Brings a function that is not in memory (an idle class instance) back, if it exists. */
  async load(functionId: string): Promise<void> {
    if (!this.byId.has(functionId)) await this.resolver?.(functionId);
  }

  /** A function by id, taken back into memory first where it was let go. */
  async lookup(functionId: string): Promise<LiveFunction | undefined> {
    await this.load(functionId);
    return this.byId.get(functionId);
  }

  /** A live function by id (an idle class instance: `load` first). @throws EngineError not_found */
  live(functionId: string): LiveFunction {
    const fn = this.byId.get(functionId);
    const dot = functionId.lastIndexOf(".");
    if (!fn && dot > 0 && this.byId.get(functionId.slice(0, dot))?.live)
      throw new EngineError(
        "not_found",
        `${functionId} is not a known instance of a running class (its row was dropped after going unused for the result retention): call instance() again to bind it anew`,
      );
    if (!fn?.live)
      throw new EngineError(
        "not_found",
        `function ${functionId} is not running (its app was stopped or redeployed without it)`,
      );
    return fn;
  }
}
