import type {
  ContainerEvents,
  ContainerHandle,
  ContainerSpec,
  EventMap,
  EventName,
  ImageExport,
  RemoteContainerSpec,
  RemoteImage,
  RemoteVolume,
  WorkerCapacity,
} from "@skiff/protocol";
import type { RemoteSync } from "../objects/volume-service.js";
import type { PlacementHost } from "./placement.js";

/** The worker agent's connection, as far as the control plane uses it. */
export interface WorkerLink {
  send<N extends EventName>(name: N, body: EventMap[N]): void;
  close(code: number, reason: string): void;
}

/** What a worker's containers need of the control plane beyond the link (registry.ts wires them). */
export interface RemoteWorkerDeps {
  /** The image as one archive (the control plane's builder); absent: no image store here. */
  exportImage?: (key: string) => Promise<ImageExport>;
  /** Marks a container's volume copies as made on a worker, synced through `sync`. */
  attachVolumes?: (containerId: string, sync: RemoteSync) => unknown;
  /** A commit or reload of a container's copy, done by the worker it runs on. */
  sync(w: RemoteWorker, containerId: string, volumeId: string, op: "commit" | "reload"): Promise<{ version: number }>;
}

interface RemoteContainer {
  spec: RemoteContainerSpec;
  /** The image archive on this host, served to the worker by its hash. */
  archivePath?: string;
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
    private readonly deps: RemoteWorkerDeps,
  ) {}

  async start(
    spec: ContainerSpec,
    gpu: { type: string; count: number } | undefined,
    events: ContainerEvents,
  ): Promise<ContainerHandle> {
    if (this.lostReason) throw new Error(`worker ${this.name} is gone (${this.lostReason})`);
    if (!spec.bundleBlobId) throw new Error("a container on a worker needs its bundle's id");
    // A worker fetches the bundle itself (by content id) and hands it to its runtime as before.
    const { controlSocket: _s, mounts, bundle: _b, preloadBundle: _p, devices: _d, ...rest } = spec;
    let image: RemoteImage | undefined;
    let archivePath: string | undefined;
    if (spec.imageKey) {
      if (!this.deps.exportImage)
        throw new Error("this control plane has no image store to send images to workers from");
      const x = await this.deps.exportImage(spec.imageKey);
      image = {
        key: spec.imageKey,
        archive: x.archive,
        size: x.size,
        env: x.env,
        ...(x.workdir ? { workdir: x.workdir } : {}),
      };
      archivePath = x.path;
    }
    let volumes: RemoteVolume[] | undefined;
    if (mounts && mounts.length > 0) {
      if (!this.deps.attachVolumes || mounts.some((m) => !m.volumeId))
        throw new Error("this container's volumes cannot be mounted on a worker (no volume service)");
      const id = spec.containerId;
      this.deps.attachVolumes(id, (volumeId, op) => this.deps.sync(this, id, volumeId, op));
      volumes = mounts.map((m) => ({ volumeId: m.volumeId!, mountPath: m.mountPath, readOnly: m.readOnly }));
    }
    if (this.lostReason) throw new Error(`worker ${this.name} is gone (${this.lostReason})`);
    const remote: RemoteContainerSpec = {
      ...rest,
      bundleBlobId: spec.bundleBlobId,
      gpuCount: gpu?.count ?? 0,
      ...(gpu ? { gpu: gpu.type } : {}),
      ...(image ? { image } : {}),
      ...(volumes ? { volumes } : {}),
    };
    return new Promise((resolve, reject) => {
      this.containers.set(spec.containerId, {
        spec: remote,
        events,
        started: resolve,
        failed: reject,
        ...(archivePath ? { archivePath } : {}),
      });
      this.link.send("worker.start", { spec: remote });
    });
  }

  /** Asks the worker to commit or reload a container's copy (it answers with requests of its own). */
  askSync(m: EventMap["worker.volume.sync"]): void {
    if (!this.lostReason) this.link.send("worker.volume.sync", m);
  }

  /** The image archive of a container placed here, if it is `archive`. */
  archiveOf(containerId: string, archive: string): string | undefined {
    const c = this.containers.get(containerId);
    return c?.spec.image?.archive === archive ? c.archivePath : undefined;
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
