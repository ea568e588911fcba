import type {
  ContainerEvents,
  ContainerHandle,
  ContainerSpec,
  EventMap,
  EventName,
  RemoteContainerSpec,
  WorkerCapacity,
} from "@skiff/protocol";
import type { PlacementHost } from "./placement.js";

/** The worker agent's connection, as far as the control plane uses it. */
export interface WorkerLink {
  send<N extends EventName>(name: N, body: EventMap[N]): void;
  close(code: number, reason: string): void;
}

interface RemoteContainer {
  spec: RemoteContainerSpec;
  events: ContainerEvents;
  /** Settles start(): on worker.started, or when the worker is lost first. */
  started: ((h: ContainerHandle) => void) | undefined;
  failed: ((e: Error) => void) | undefined;
}

/**
 * One connected worker agent as a placement host: container starts and kills go out over its
 * link, their output and exits come back. Every container it holds is reported gone when the
 * worker is lost (heartbeat lapsed, link closed), so the fleet hands their inputs out again.
 */
export class RemoteWorker implements PlacementHost {
  readonly containers = new Map<string, RemoteContainer>();
  lastHeardAt = Date.now();
  readonly connectedAt = Date.now();
  lostReason: string | undefined;

  constructor(
    readonly id: string,
    readonly name: string,
    readonly address: string,
    readonly capacity: WorkerCapacity,
    private readonly link: WorkerLink,
  ) {}

  start(
    spec: ContainerSpec,
    gpu: { type: string; count: number } | undefined,
    events: ContainerEvents,
  ): Promise<ContainerHandle> {
    if (this.lostReason) return Promise.reject(new Error(`worker ${this.name} is gone (${this.lostReason})`));
    if (!spec.bundleBlobId) return Promise.reject(new Error("a container on a worker needs its bundle's id"));
    const { controlSocket: _s, mounts, bundle: _b, devices: _d, ...rest } = spec;
    if (mounts && mounts.length > 0)
      return Promise.reject(new Error("volumes are not mounted on remote workers yet (run this function locally)"));
    const remote: RemoteContainerSpec = {
      ...rest,
      bundleBlobId: spec.bundleBlobId,
      gpuCount: gpu?.count ?? 0,
      ...(gpu ? { gpu: gpu.type } : {}),
    };
    return new Promise((resolve, reject) => {
      this.containers.set(spec.containerId, { spec: remote, events, started: resolve, failed: reject });
      this.link.send("worker.start", { spec: remote });
    });
  }

  private handle(containerId: string, pid: number | undefined): ContainerHandle {
    return {
      containerId,
      pid,
      host: this.name,
      kill: () => {
        if (this.containers.has(containerId) && !this.lostReason) this.link.send("worker.kill", { containerId });
      },
    };
  }

  /** The bundle id of a container placed here; undefined when it is not this worker's. */
  bundleOf(containerId: string): string | undefined {
    return this.containers.get(containerId)?.spec.bundleBlobId;
  }

  /** Returns false when the container is not this worker's (the caller refuses the message). */
  started(m: EventMap["worker.started"]): boolean {
    const c = this.containers.get(m.containerId);
    if (!c) return false;
    if (m.error) {
      this.containers.delete(m.containerId);
      c.failed?.(new Error(`worker ${this.name}: ${m.error}`));
    } else c.started?.(this.handle(m.containerId, m.pid));
    c.started = undefined;
    c.failed = undefined;
    return true;
  }

  output(m: EventMap["worker.output"]): boolean {
    const c = this.containers.get(m.containerId);
    if (!c) return false;
    c.events.onOutput(m.stream, m.text);
    return true;
  }

  exited(m: EventMap["worker.exit"]): boolean {
    const c = this.containers.get(m.containerId);
    if (!c) return false;
    this.containers.delete(m.containerId);
    // An exit before worker.started: the start is settled with a handle that is already dead.
    c.started?.(this.handle(m.containerId, undefined));
    c.events.onExit(m.code, m.signal);
    return true;
  }

  /** The worker is gone: each of its containers is, too (their inputs go back to the queue). */
  lost(why: string): void {
    if (this.lostReason) return;
    this.lostReason = why;
    const all = [...this.containers.entries()];
    this.containers.clear();
    for (const [id, c] of all) {
      c.started?.(this.handle(id, undefined));
      c.events.onExit(null, null, `its worker ${this.name} was lost (${why})`);
    }
    this.link.close(4000, `worker lost: ${why}`);
  }
}
