import {
  type ContainerEvents,
  type ContainerHandle,
  type ContainerSpec,
  DEFAULT_CONTAINER_MIB,
  type GpuNeed,
  gpuTypeMatches,
  type ImageBuilder,
  parseGpuNeed,
  type WorkerCapacity,
  type WorkerProvider,
} from "@skiff/protocol";

/** A host containers can be placed on: this one (the local provider) or a worker agent. */
export interface PlacementHost {
  readonly id: string;
  readonly name: string;
  readonly capacity: WorkerCapacity;
  /** The control plane's own host. */
  readonly local?: boolean;
  /**
   * Counts a container without `memoryMiB` by what it uses (its handle's measured memory) once
   * it runs, rather than by DEFAULT_CONTAINER_MIB: its worst case (its cgroup's cap, half the
   * host) would let a host hold two of them.
   */
  readonly measured?: boolean;
  /** Starts a container there; `gpuType`/`gpuCount`: its share of the host's GPUs. */
  start(
    spec: ContainerSpec,
    gpu: { type: string; count: number } | undefined,
    events: ContainerEvents,
  ): Promise<ContainerHandle>;
}

/** Thrown (rejected) when no host could take a container within the placement timeout. */
export class PlacementError extends Error {
  override name = "PlacementError";
}

/**
 * Rejected at once when hosts that could run the container are all full: the function's
 * running containers work through its queue, and the fleet tries to scale up again later.
 */
export class CapacityError extends Error {
  override name = "CapacityError";
}

/** What a container needs of a host. */
export interface Needs {
  memoryMiB: number;
  gpu: GpuNeed | undefined;
}

/** What a container needs of a host. Images and volumes go to workers too (they fetch and sync them). */
export function needsOf(spec: Pick<ContainerSpec, "memoryMiB" | "gpu">): Needs {
  let gpu: GpuNeed | undefined;
  if (spec.gpu) {
    const g = parseGpuNeed(spec.gpu);
    if (typeof g === "string") throw new PlacementError(g);
    gpu = g;
  }
  return { memoryMiB: spec.memoryMiB ?? DEFAULT_CONTAINER_MIB, gpu };
}

export function describeNeeds(n: Needs): string {
  const parts = [`${n.memoryMiB} MiB`];
  if (n.gpu) parts.unshift(`${n.gpu.count} GPU(s) of type ${n.gpu.types.length ? n.gpu.types.join(" or ") : "any"}`);
  return parts.join(" and ");
}

/** One container placed on a host, and the memory it is counted as there. */
interface Placed {
  /** MiB counted against the host: its memoryMiB, else an estimate, then its measured use. */
  charge: number;
  /** Without memoryMiB: counted by measurement where the host measures. */
  measure: boolean;
  handle?: ContainerHandle;
}

/** A host and what is placed on it now. */
export interface HostLoad {
  readonly host: PlacementHost;
  containers: number;
  memoryMiB: number;
  /** GPUs in use per advertised type. */
  gpusUsed: Map<string, number>;
  /** Containers placed here (bounded by the host's maxContainers). */
  placed?: Set<Placed>;
  /** When the measured charges were last read. */
  measuredAt?: number;
}

/** How stale measured memory may be when a placement reads it (each read walks /proc or a cgroup file). */
const MEASURE_EVERY_MS = 1000;

/** Re-reads the memory of containers counted by measurement on a host that measures. */
export function refreshMeasured(load: HostLoad, now = Date.now()): void {
  if (!load.host.measured || !load.placed || now - (load.measuredAt ?? 0) < MEASURE_EVERY_MS) return;
  load.measuredAt = now;
  for (const p of load.placed) {
    if (!p.measure || !p.handle) continue;
    const h = p.handle;
    const bytes = h.memoryBytes ? h.memoryBytes() : h.usage?.()?.memoryBytes;
    if (bytes === undefined) continue; // gone, or not measurable: its last charge stays
    const charge = Math.max(1, Math.ceil(bytes / 1024 / 1024));
    load.memoryMiB += charge - p.charge;
    p.charge = charge;
  }
}

/** The GPU type of `load` that can give `need` now (or, with `ever`, when empty). */
function gpuFit(load: HostLoad, need: GpuNeed, ever: boolean): string | undefined {
  for (const g of load.host.capacity.gpus) {
    if (need.types.length > 0 && !need.types.some((t) => gpuTypeMatches(g.type, t))) continue;
    const free = g.count - (ever ? 0 : (load.gpusUsed.get(g.type) ?? 0));
    if (free >= need.count) return g.type;
  }
  return undefined;
}

/** Whether `load` could ever run a container with these needs (an empty host). */
export function fitsEver(load: HostLoad, n: Needs): boolean {
  const c = load.host.capacity;
  if (c.maxContainers < 1 || c.memoryMiB < n.memoryMiB) return false;
  return !n.gpu || gpuFit(load, n.gpu, true) !== undefined;
}

/**
 * The host for a container now, or undefined: among hosts with room (containers, memory, GPUs),
 * the one running the fewest containers (spread), then the one with most memory free.
 */
export function pickHost(loads: Iterable<HostLoad>, n: Needs): { load: HostLoad; gpuType?: string } | undefined {
  let best: { load: HostLoad; gpuType?: string; score: number[] } | undefined;
  for (const l of loads) {
    const c = l.host.capacity;
    if (l.containers + 1 > c.maxContainers || l.memoryMiB + n.memoryMiB > c.memoryMiB) continue;
    let gpuType: string | undefined;
    if (n.gpu) {
      gpuType = gpuFit(l, n.gpu, false);
      if (gpuType === undefined) continue;
    }
    // Lower is better: a host without GPUs for work that needs none (GPU hosts stay free for
    // GPU work), then the fewest containers (spread), then the most memory free.
    const score = [!n.gpu && c.gpus.length > 0 ? 1 : 0, l.containers, -(c.memoryMiB - l.memoryMiB)];
    if (!best || lessThan(score, best.score)) best = { load: l, score, ...(gpuType !== undefined ? { gpuType } : {}) };
  }
  return best && (best.gpuType !== undefined ? { load: best.load, gpuType: best.gpuType } : { load: best.load });
}

function lessThan(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

interface Waiting {
  spec: ContainerSpec;
  needs: Needs;
  events: ContainerEvents;
  resolve(h: ContainerHandle): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export interface PlacementOptions {
  /** How long a container waits for a host that fits. @defaultValue 600_000 */
  timeoutMs?: number;
  /** The local provider's image builder (images are built on the control plane's host). */
  images?: ImageBuilder;
  /** Closes what the hosts need closed (the local provider, worker links). */
  onClose?: () => Promise<void>;
}

/**
 * The one placement path for every container, local or remote: a WorkerProvider over the hosts
 * that are there now. When the hosts that fit are full, a start is refused at once
 * (CapacityError: the fleet tries again later); when no connected host could ever run it (a GPU
 * type none has), it waits (bounded: the fleet caps containers starting at once) for a host to
 * join, up to the placement timeout.
 */
export class Placement implements WorkerProvider {
  readonly name = "placement";
  readonly images: ImageBuilder | undefined;
  private readonly loads = new Map<string, HostLoad>();
  private readonly waiting = new Set<Waiting>();
  private readonly timeoutMs: number;
  private closed = false;
  private readonly freedListeners: (() => void)[] = [];

  constructor(private readonly o: PlacementOptions = {}) {
    this.timeoutMs = o.timeoutMs ?? 600_000;
    this.images = o.images;
  }

  hosts(): HostLoad[] {
    return [...this.loads.values()];
  }

  addHost(host: PlacementHost): void {
    this.loads.set(host.id, { host, containers: 0, memoryMiB: 0, gpusUsed: new Map(), placed: new Set() });
    this.retryWaiting();
    this.freed();
  }

  /**
   * Calls `fn` when room may have appeared on a host (a container ended, a host joined): what
   * was refused with CapacityError can try again then, rather than on a timer.
   */
  onCapacityFreed(fn: () => void): void {
    this.freedListeners.push(fn);
  }

  private freedQueued = false;
  private freed(): void {
    if (this.freedListeners.length === 0 || this.freedQueued) return;
    // Once per turn: several containers ending together free room once.
    this.freedQueued = true;
    queueMicrotask(() => {
      this.freedQueued = false;
      if (!this.closed) for (const fn of this.freedListeners) fn();
    });
  }

  /** The host left: its containers are reported gone by the host itself. */
  removeHost(id: string): void {
    this.loads.delete(id);
  }

  gpuTypes(): string[] {
    const types = new Set<string>();
    for (const l of this.loads.values()) for (const g of l.host.capacity.gpus) types.add(g.type);
    return [...types];
  }

  /** Why no host connected now could ever run a container with these needs; undefined when one can. */
  unplaceable(spec: Pick<ContainerSpec, "memoryMiB" | "gpu" | "imageKey">): string | undefined {
    const n = needsOf(spec);
    if ([...this.loads.values()].some((l) => fitsEver(l, n))) return undefined;
    return `no connected worker can run a container needing ${describeNeeds(n)} (${this.describeHosts()})`;
  }

  hasRoom(spec: Pick<ContainerSpec, "memoryMiB" | "gpu">): boolean {
    let needs: Needs;
    try {
      needs = needsOf(spec);
    } catch {
      return true; // a bad GPU request: let the start say why
    }
    const now = Date.now();
    for (const l of this.loads.values()) refreshMeasured(l, now);
    // No host could ever run it: not a matter of room (the start waits for a host, or fails).
    if (![...this.loads.values()].some((l) => fitsEver(l, needs))) return true;
    return pickHost(this.loads.values(), needs) !== undefined;
  }

  couldRunOn(host: string, spec: Pick<ContainerSpec, "memoryMiB" | "gpu">): boolean {
    let needs: Needs;
    try {
      needs = needsOf(spec);
    } catch {
      return false;
    }
    for (const l of this.loads.values()) if (l.host.name === host) return fitsEver(l, needs);
    return false; // gone
  }

  private describeHosts(): string {
    if (this.loads.size === 0) return "no workers are connected";
    const hosts = [...this.loads.values()].slice(0, 8).map((l) => {
      const c = l.host.capacity;
      const gpus = c.gpus.length ? c.gpus.map((g) => `${g.type}:${g.count}`).join(",") : "no GPUs";
      return `${l.host.name}: ${gpus}, ${l.containers}/${c.maxContainers} containers, ${l.memoryMiB}/${c.memoryMiB} MiB`;
    });
    return `workers: ${hosts.join("; ")}${this.loads.size > 8 ? "; …" : ""}`;
  }

  start(spec: ContainerSpec, events: ContainerEvents): Promise<ContainerHandle> {
    if (this.closed) return Promise.reject(new Error("the control plane is shutting down"));
    let needs: Needs;
    try {
      needs = needsOf(spec);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      if (this.tryPlace(spec, needs, events, resolve, reject)) return;
      if ([...this.loads.values()].some((l) => fitsEver(l, needs))) {
        reject(
          new CapacityError(
            `every host that can run ${spec.appName}.${spec.functionName} is full (${this.describeHosts()})`,
          ),
        );
        return;
      }
      // No connected host could ever run it: wait for one to join, up to the placement timeout.
      const w: Waiting = {
        spec,
        needs,
        events,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiting.delete(w);
          reject(
            new PlacementError(
              `no worker could take a container of ${spec.appName}.${spec.functionName} within ${Math.round(this.timeoutMs / 1000)} s (--placement-timeout-ms): it needs ${describeNeeds(needs)}; ${this.describeHosts()}`,
            ),
          );
        }, this.timeoutMs),
      };
      w.timer.unref();
      this.waiting.add(w);
    });
  }

  /** Places now if a host has room; false when none has. */
  private tryPlace(
    spec: ContainerSpec,
    needs: Needs,
    events: ContainerEvents,
    resolve: (h: ContainerHandle) => void,
    reject: (e: Error) => void,
  ): boolean {
    const now = Date.now();
    for (const l of this.loads.values()) refreshMeasured(l, now);
    const pick = pickHost(this.loads.values(), needs);
    if (!pick) return false;
    const { load, gpuType } = pick;
    const gpuCount = needs.gpu?.count ?? 0;
    const placed: Placed = { charge: needs.memoryMiB, measure: spec.memoryMiB === undefined };
    load.placed?.add(placed);
    load.containers++;
    load.memoryMiB += placed.charge;
    if (gpuType !== undefined) load.gpusUsed.set(gpuType, (load.gpusUsed.get(gpuType) ?? 0) + gpuCount);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      load.placed?.delete(placed);
      load.containers--;
      load.memoryMiB -= placed.charge;
      if (gpuType !== undefined) load.gpusUsed.set(gpuType, (load.gpusUsed.get(gpuType) ?? 0) - gpuCount);
      if (this.waiting.size > 0) queueMicrotask(() => this.retryWaiting());
      this.freed();
    };
    events.onPlaced?.(load.host.name);
    load.host
      .start(spec, gpuType !== undefined ? { type: gpuType, count: gpuCount } : undefined, {
        onOutput: (s, t) => events.onOutput(s, t),
        onExit: (code, signal, why) => {
          release();
          events.onExit(code, signal, why);
        },
      })
      .then(
        (h) => {
          if (!released) placed.handle = h;
          resolve(h);
        },
        (err: Error) => {
          release();
          reject(err);
        },
      );
    return true;
  }

  private retryWaiting(): void {
    for (const w of [...this.waiting]) {
      if (this.tryPlace(w.spec, w.needs, w.events, w.resolve, w.reject)) {
        clearTimeout(w.timer);
        this.waiting.delete(w);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting) {
      clearTimeout(w.timer);
      w.reject(new Error("the control plane is shutting down"));
    }
    this.waiting.clear();
    await this.o.onClose?.();
  }
}

/**
 * The local provider as a placement host, with the capacity it was given (the server's
 * --max-containers and --memory-mib; unlimited where not given). Containers without
 * `memoryMiB` are counted by their measured memory.
 */
export function localHost(
  provider: WorkerProvider,
  capacity: Partial<WorkerCapacity> = {},
  /** Readies what a container placed here needs on this host first (its volume copies). */
  prepare?: (spec: ContainerSpec) => Promise<void>,
): PlacementHost & { provider: WorkerProvider } {
  return {
    id: "local",
    name: "local",
    local: true,
    measured: true,
    provider,
    capacity: {
      maxContainers: capacity.maxContainers ?? Number.MAX_SAFE_INTEGER,
      memoryMiB: capacity.memoryMiB ?? Number.MAX_SAFE_INTEGER,
      gpus: capacity.gpus ?? provider.gpuTypes().map((type) => ({ type, count: 1 })),
    },
    start: async (spec, _gpu, events) => {
      await prepare?.(spec);
      return provider.start(spec, events);
    },
  };
}
