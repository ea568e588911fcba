import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  type ContainerHandle,
  type GpuAdvert,
  type RemoteContainerSpec,
  WORKER_HEARTBEAT_MS,
  WORKER_LEASE_MS,
  WORKER_PROTOCOL_VERSION,
  type WorkerProvider,
} from "@skiff/protocol";
import { LocalProvider } from "../local-provider.js";
import type { SandboxChoice } from "../sandbox/detect.js";
import type { LimitsChoice } from "../sandbox/limits.js";
import { BundleCache } from "./bundle-cache.js";
import { ControlLink, RefusedError } from "./control-link.js";
import { GpuDevices } from "./gpu-devices.js";
import { LayerCache } from "./layer-cache.js";
import { Relay } from "./relay.js";
import { VolumeCopies } from "./volume-copies.js";

export interface WorkerAgentOptions {
  serverUrl: string;
  tokenId: string;
  tokenSecret: string;
  name: string;
  /** Bundle cache and the relay socket. */
  dataDir: string;
  maxContainers: number;
  memoryMiB: number;
  gpus: GpuAdvert[];
  /** Device files handed to GPU containers (see gpu-devices.ts). */
  gpuDevices: string[];
  /** @defaultValue 1 GiB */
  bundleCacheBytes?: number;
  /** Image roots kept here (least recently used out first). @defaultValue 10 GiB */
  imageCacheBytes?: number;
  sandbox?: SandboxChoice;
  limits?: LimitsChoice;
  warmPool?: number;
  /** Paths containers must not see (the token file). */
  hide?: string[];
  /** Address to dial from. */
  localAddress?: string;
  /** Worker protocol version to register with (tests of the refusal). */
  protocolVersion?: number;
  log: (m: string) => void;
  /** Tests: the provider that runs containers (default: a LocalProvider on the relay socket). */
  provider?: (controlSocket: string) => WorkerProvider;
}

interface Running {
  handle: ContainerHandle | undefined;
  killed: boolean;
  gpus: number[];
  /** Its image (kept in the cache while it runs). */
  imageKey: string | undefined;
}

/**
 * `skiff worker`: joins this host to a control plane by dialling out, then runs the containers
 * placed on it (through a local provider, in the same sandbox as on the control plane's host),
 * relays their connections, fetches their bundles by content id into a verified LRU cache, and
 * renews its lease with a heartbeat. When the link is lost its containers are killed (the
 * control plane has handed their inputs out again) and it dials again, with backoff, as a new
 * worker: a control-plane restart is survived, and nothing it ran before is trusted.
 */
export class WorkerAgent {
  private readonly cache: BundleCache;
  private readonly layers: LayerCache;
  private readonly volumes: VolumeCopies;
  private relay: Relay | undefined;
  private provider: WorkerProvider | undefined;
  private readonly gpuDevices: GpuDevices;
  private link: ControlLink | undefined;
  /** Containers of the current link; a new link starts a new generation. */
  private running = new Map<string, Running>();
  private stopped = false;
  private wake: (() => void) | undefined;
  /** Registrations so far (the first, then rejoins). */
  joins = 0;

  constructor(private readonly o: WorkerAgentOptions) {
    mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
    this.cache = new BundleCache(join(o.dataDir, "bundles"), o.bundleCacheBytes ?? 1024 ** 3);
    this.layers = new LayerCache(join(o.dataDir, "images"), o.imageCacheBytes ?? 10 * 1024 ** 3, () => {
      const keys = new Set<string>();
      for (const r of this.running.values()) if (r.imageKey) keys.add(r.imageKey);
      return keys;
    });
    this.volumes = new VolumeCopies(join(o.dataDir, "volumes"));
    this.gpuDevices = new GpuDevices(o.gpus, o.gpuDevices, o.log);
  }

  get cacheStats(): BundleCache["stats"] {
    return this.cache.stats;
  }

  get imageCacheStats(): LayerCache["stats"] {
    return this.layers.stats;
  }

  /**
   * Runs until stop(); rejects with RefusedError when the control plane refuses this worker
   * (token, version, capacity): retrying would not help.
   */
  async run(): Promise<void> {
    this.relay = await Relay.start({
      dataDir: this.o.dataDir,
      serverUrl: this.o.serverUrl,
      ...(this.o.localAddress ? { localAddress: this.o.localAddress } : {}),
    });
    this.provider =
      this.o.provider?.(this.relay.socketPath) ??
      new LocalProvider({
        controlSocket: this.relay.socketPath,
        sandbox: this.o.sandbox ?? "auto",
        limits: this.o.limits ?? "auto",
        hide: [resolve(this.o.dataDir), ...(this.o.hide ?? [])],
        gpuTypes: this.o.gpus.map((g) => g.type),
        maxProcesses: this.o.maxContainers,
        imageRoots: this.layers,
        // Its runtimes speak the framed stream; the relay carries it in an upgrade.
        framedControl: true,
        ...(this.o.warmPool !== undefined ? { warmPool: this.o.warmPool } : {}),
        log: this.o.log,
      });
    let backoff = 200;
    let unreachableSince = 0;
    try {
      while (!this.stopped) {
        const why = await this.session().catch((err: Error) => {
          if (err instanceof RefusedError) throw err;
          return err.message;
        });
        if (this.stopped) break;
        if (why === "") {
          backoff = 200; // it was registered: dial again at once
          unreachableSince = 0;
        } else if (!unreachableSince) {
          unreachableSince = Date.now();
          this.o.log(`cannot reach the control plane at ${this.o.serverUrl}: ${why}; retrying`);
        }
        await new Promise<void>((r) => {
          this.wake = r;
          setTimeout(r, backoff).unref();
        });
        backoff = Math.min(5000, backoff * 2);
      }
    } finally {
      await this.shutdown();
    }
  }

  /** One link: connect, register, serve until it is lost. Resolves "" once it had registered, else why not. */
  private async session(): Promise<string> {
    const link = new ControlLink({
      serverUrl: this.o.serverUrl,
      tokenId: this.o.tokenId,
      tokenSecret: this.o.tokenSecret,
      ...(this.o.localAddress ? { localAddress: this.o.localAddress } : {}),
    });
    const lost = new Promise<string>((r) => link.onClosed(r));
    await link.open();
    const reg = await link.request("worker.register", {
      v: this.o.protocolVersion ?? WORKER_PROTOCOL_VERSION,
      name: this.o.name,
      capacity: { maxContainers: this.o.maxContainers, memoryMiB: this.o.memoryMiB, gpus: this.o.gpus },
    });
    this.joins++;
    this.link = link;
    const running = new Map<string, Running>();
    this.running = running;
    this.o.log(
      `${this.joins > 1 ? "rejoined" : "joined"} ${this.o.serverUrl} as worker ${this.o.name} (${reg.workerId})`,
    );
    link.on("worker.start", ({ spec }) => void this.start(link, running, spec));
    link.on("worker.kill", ({ containerId }) => {
      const r = running.get(containerId);
      if (!r) return;
      r.killed = true;
      r.handle?.kill();
    });
    link.on("worker.volume.sync", (m) => this.volumes.sync(link, m));
    link.on("worker.refused", ({ message }) => this.o.log(`the control plane refused a message: ${message}`));
    const beat = setInterval(
      () => link.emit("worker.heartbeat", { containers: [...running.keys()] }),
      reg.heartbeatMs || WORKER_HEARTBEAT_MS,
    );
    beat.unref();
    link.keepAlive(reg.heartbeatMs || WORKER_HEARTBEAT_MS, reg.leaseMs || WORKER_LEASE_MS);
    const why = await lost;
    clearInterval(beat);
    this.link = undefined;
    if (!this.stopped)
      this.o.log(`lost the control plane (${why}): stopping ${running.size} container(s), then rejoining`);
    // The control plane has handed their inputs out again: these must not run on.
    for (const r of running.values()) {
      r.killed = true;
      r.handle?.kill();
    }
    return "";
  }

  private async start(link: ControlLink, running: Map<string, Running>, spec: RemoteContainerSpec): Promise<void> {
    const id = spec.containerId;
    if (running.has(id)) return;
    const gpus = this.gpuDevices.take(spec.gpuCount);
    if (!gpus) {
      link.emit("worker.started", { containerId: id, error: `fewer than ${spec.gpuCount} GPU(s) are free here` });
      return;
    }
    const r: Running = { handle: undefined, killed: false, gpus: gpus.indexes, imageKey: spec.image?.key };
    running.set(id, r);
    const gone = (code: number | null, signal: string | null) => {
      if (running.get(id) !== r) return;
      running.delete(id);
      this.gpuDevices.give(r.gpus);
      this.volumes.drop(id);
      link.emit("worker.exit", { containerId: id, code, signal });
    };
    try {
      const bundle = await this.cache.get(spec.bundleBlobId, async () => {
        const bytes = await this.fetchBundle(link, id);
        this.o.log(`fetched bundle ${spec.bundleBlobId.slice(0, 15)}… (${bytes.byteLength} bytes) for ${spec.appName}`);
        return bytes;
      });
      if (spec.image) {
        const img = spec.image;
        const before = this.layers.stats.fetches;
        const t0 = Date.now();
        await this.layers.ensure(img, (offset) =>
          link.request("worker.layer", { containerId: id, archive: img.archive, offset }),
        );
        if (this.layers.stats.fetches > before)
          this.o.log(
            `fetched image ${img.key.slice(0, 12)} (archive ${img.archive.slice(0, 12)}…, ${img.size} bytes) in ${Date.now() - t0} ms for ${spec.appName}`,
          );
      }
      const mounts = spec.volumes?.length ? await this.volumes.make(link, id, spec.volumes) : [];
      if (r.killed) return gone(null, "SIGKILL");
      const { bundleBlobId, gpuCount: _g, image: _i, volumes: _v, ...rest } = spec;
      const handle = await this.provider!.start(
        {
          ...rest,
          controlSocket: this.relay!.socketPath,
          bundleBlobId,
          bundle,
          env: {
            ...spec.env,
            ...(spec.gpuCount > 0 ? { CUDA_VISIBLE_DEVICES: gpus.indexes.join(",") } : {}),
          },
          ...(gpus.devices.length > 0 ? { devices: gpus.devices } : {}),
          ...(mounts.length > 0 ? { mounts } : {}),
        },
        {
          onOutput: (stream, text) => {
            if (running.get(id) === r) link.emit("worker.output", { containerId: id, stream, text });
          },
          onExit: (code, signal) => gone(code, signal),
        },
      );
      r.handle = handle;
      if (running.get(id) !== r) return; // exited already
      link.emit("worker.started", { containerId: id, ...(handle.pid !== undefined ? { pid: handle.pid } : {}) });
      if (r.killed) handle.kill();
    } catch (err) {
      if (running.get(id) === r) {
        running.delete(id);
        this.gpuDevices.give(r.gpus);
        this.volumes.drop(id);
      }
      link.emit("worker.started", { containerId: id, error: (err as Error).message });
    }
  }

  /** The bundle of a container placed here, in parts, from the control plane. */
  private async fetchBundle(link: ControlLink, containerId: string): Promise<Uint8Array> {
    const first = await link.request("worker.bundle", { containerId });
    if (first.data.byteLength >= first.size) return first.data;
    const out = new Uint8Array(first.size);
    out.set(first.data, 0);
    let offset = first.data.byteLength;
    while (offset < first.size) {
      const part = await link.request("worker.bundle", { containerId, offset });
      if (part.data.byteLength === 0 || offset + part.data.byteLength > first.size)
        throw new Error("the bundle's parts do not add up to its size");
      out.set(part.data, offset);
      offset += part.data.byteLength;
    }
    return out;
  }

  /** Containers running now. */
  get containers(): number {
    return this.running.size;
  }

  stop(): void {
    this.stopped = true;
    this.link?.close();
    this.wake?.();
  }

  private async shutdown(): Promise<void> {
    await this.provider?.close();
    await this.relay?.close();
    this.layers.close();
  }
}
