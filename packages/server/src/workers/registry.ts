import { open } from "node:fs/promises";
import {
  BLOB_PART_BYTES,
  DEFAULT_CONTAINER_MIB,
  type EventMap,
  newId,
  WORKER_HEARTBEAT_MS,
  WORKER_LEASE_MS,
  WORKER_PROTOCOL_VERSION,
  type WorkerCapacity,
  type WorkerInfo,
  type WorkerRequestMap,
} from "@skiff/protocol";
import { ApiError } from "../api/api-error.js";
import type { RemoteVolumes } from "../objects/volume-remote.js";
import type { VolumeService } from "../objects/volume-service.js";
import type { BlobStore } from "../store/blobs/blob-store.js";
import type { Placement } from "./placement.js";
import { RemoteWorker, type WorkerLink } from "./remote-worker.js";

/** A volume commit or reload a worker does for a container: failed when it makes no progress this long. */
const SYNC_IDLE_MS = 120_000;
/** Commits and reloads one container may have waiting on its worker at once. */
const MAX_SYNCS_PER_CONTAINER = 8;

interface Sync {
  worker: RemoteWorker;
  containerId: string;
  volumeId: string;
  op: "commit" | "reload";
  resolve(r: { version: number }): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** Workers lost lately, kept for `skiff worker list` (bounded). */
const LOST_KEPT = 32;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const GPU_TYPE = /^[A-Za-z][A-Za-z0-9 _.-]{0,63}$/;

export interface WorkerRegistryOptions {
  /** A worker not heard from for this long is lost. @defaultValue WORKER_LEASE_MS */
  leaseMs?: number;
  log: (m: string) => void;
}

type RegisterParams = WorkerRequestMap["worker.register"][0];

function invalid(msg: string): ApiError {
  return new ApiError("invalid_argument", msg);
}

/** Checks what a worker advertises; nonsense is refused with the field that is wrong. */
export function checkCapacity(c: unknown): WorkerCapacity {
  const o = c as Partial<WorkerCapacity> | undefined;
  if (!o || typeof o !== "object") throw invalid("worker.register needs capacity");
  if (!Number.isInteger(o.maxContainers) || o.maxContainers! < 1 || o.maxContainers! > 100_000)
    throw invalid(`capacity.maxContainers must be an integer from 1 to 100000, got ${JSON.stringify(o.maxContainers)}`);
  if (!Number.isInteger(o.memoryMiB) || o.memoryMiB! < 64 || o.memoryMiB! > 2 ** 30)
    throw invalid(`capacity.memoryMiB must be an integer of at least 64, got ${JSON.stringify(o.memoryMiB)}`);
  if (!Array.isArray(o.gpus) || o.gpus.length > 16)
    throw invalid("capacity.gpus must be a list of at most 16 GPU types");
  for (const g of o.gpus) {
    if (
      typeof g?.type !== "string" ||
      !GPU_TYPE.test(g.type) ||
      !Number.isInteger(g.count) ||
      g.count < 1 ||
      g.count > 64
    )
      throw invalid(`capacity.gpus: ${JSON.stringify(g)} is not a GPU type with a count from 1 to 64`);
  }
  return { maxContainers: o.maxContainers!, memoryMiB: o.memoryMiB!, gpus: o.gpus.map((g) => ({ ...g })) };
}

/**
 * The worker agents connected to this control plane: registration, their events, leases renewed
 * by heartbeat (a worker silent past its lease is lost and its containers with it), bundle
 * fetches for the containers placed on them, and the list `skiff worker list` shows.
 */
export class WorkerRegistry {
  private readonly workers = new Map<WorkerLink, RemoteWorker>();
  private readonly lostRecently: WorkerInfo[] = [];
  private readonly leaseMs: number;
  private readonly timer: NodeJS.Timeout;
  private readonly syncs = new Map<string, Sync>();
  private volumes: { service: VolumeService; remote: RemoteVolumes } | undefined;

  constructor(
    private readonly placement: Placement,
    private readonly blobs: BlobStore,
    private readonly o: WorkerRegistryOptions,
  ) {
    this.leaseMs = o.leaseMs ?? WORKER_LEASE_MS;
    this.timer = setInterval(() => this.checkLeases(), Math.min(500, this.leaseMs / 4));
    this.timer.unref();
  }

  register(link: WorkerLink, address: string, p: RegisterParams): WorkerRequestMap["worker.register"][1] {
    if (this.workers.has(link)) throw new ApiError("failed_precondition", "this worker connection already registered");
    if (p.v !== WORKER_PROTOCOL_VERSION)
      throw new ApiError(
        "failed_precondition",
        `this control plane speaks worker protocol ${WORKER_PROTOCOL_VERSION}, the worker ${JSON.stringify(p.v)}: run the same Skiff version on workers and control plane`,
      );
    if (typeof p.name !== "string" || !NAME.test(p.name))
      throw invalid(`worker name ${JSON.stringify(p.name)} must be 1-64 letters, digits, . _ - (--name)`);
    const capacity = checkCapacity(p.capacity);
    // The same name again: a worker that came back. Its old containers are not trusted.
    for (const w of this.workers.values())
      if (w.name === p.name) this.lose(w, "a new connection with the same name replaced it");
    const images = this.placement.images;
    const w = new RemoteWorker(newId("wk"), p.name, address, capacity, link, {
      ...(images?.export ? { exportImage: (key: string) => images.export!(key) } : {}),
      ...(this.volumes ? { attachVolumes: this.volumes.service.attachRemote.bind(this.volumes.service) } : {}),
      sync: (worker, containerId, volumeId, op) => this.requestSync(worker, containerId, volumeId, op),
    });
    this.workers.set(link, w);
    this.placement.addHost(w);
    const gpus = capacity.gpus.map((g) => `${g.type}:${g.count}`).join(",") || "no GPUs";
    this.o.log(
      `worker ${w.name} joined from ${address}: ${capacity.maxContainers} containers, ${capacity.memoryMiB} MiB, ${gpus}`,
    );
    return { workerId: w.id, heartbeatMs: WORKER_HEARTBEAT_MS, leaseMs: this.leaseMs };
  }

  /** An event from a worker link; refused (with a clear message both sides) when it is not its to send. */
  event(link: WorkerLink, t: string, b: unknown): void {
    const w = this.workers.get(link);
    const refuse = (why: string) => {
      this.o.log(`worker ${w?.name ?? "(unregistered)"}: refused ${t}: ${why}`);
      link.send("worker.refused", { message: `${t} refused: ${why}` });
    };
    if (!w) {
      refuse("the worker has not registered (send worker.register first)");
      return;
    }
    const body = b as Record<string, unknown> | undefined;
    if (t === "worker.heartbeat") {
      w.lastHeardAt = Date.now();
      return;
    }
    if (t === "worker.volume.failed") {
      const sync = typeof body?.syncId === "string" ? this.syncs.get(body.syncId) : undefined;
      if (!sync || sync.worker !== w) refuse(`no volume sync ${String(body?.syncId)} of this worker is open`);
      else this.endSync(body!.syncId as string, new Error(`worker ${w.name}: ${String(body!.message).slice(0, 2000)}`));
      return;
    }
    if (typeof body?.containerId !== "string") {
      refuse("it needs a containerId");
      return;
    }
    w.lastHeardAt = Date.now();
    let ok: boolean;
    switch (t) {
      case "worker.started":
        ok = w.started(body as EventMap["worker.started"]);
        break;
      case "worker.output":
        if ((body.stream !== "stdout" && body.stream !== "stderr") || typeof body.text !== "string") {
          refuse("it needs stream (stdout or stderr) and text");
          return;
        }
        ok = w.output(body as EventMap["worker.output"]);
        break;
      case "worker.exit":
        ok = w.exited(body as EventMap["worker.exit"]);
        if (ok) this.failSyncs((s) => s.containerId === body.containerId, "the container exited");
        break;
      default: {
        refuse(
          "a worker sends worker.started, worker.output, worker.exit, worker.volume.failed and worker.heartbeat only",
        );
        return;
      }
    }
    if (!ok) refuse(`container ${body.containerId} is not one this worker runs`);
  }

  /** Part of the bundle of a container placed on the worker on this link. */
  async bundle(link: WorkerLink, p: WorkerRequestMap["worker.bundle"][0]): Promise<{ data: Uint8Array; size: number }> {
    const w = this.registered(link);
    const blobId = typeof p.containerId === "string" ? w.bundleOf(p.containerId) : undefined;
    if (!blobId) throw new ApiError("permission_denied", `container ${p.containerId} is not one this worker runs`);
    const offset = p.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0) throw invalid("offset must be a non-negative integer");
    const size = await this.blobs.size(blobId);
    const data = size === undefined ? undefined : await this.blobs.read(blobId, offset, BLOB_PART_BYTES);
    if (size === undefined || !data) throw new ApiError("not_found", `bundle ${blobId} is missing`);
    return { data, size };
  }

  /** Part of the image archive `archive` of a container placed on the worker on this link. */
  async layer(link: WorkerLink, p: WorkerRequestMap["worker.layer"][0]): Promise<{ data: Uint8Array; size: number }> {
    const w = this.registered(link);
    if (typeof p.containerId !== "string" || !w.containers.has(p.containerId))
      throw new ApiError("permission_denied", `container ${p.containerId} is not one this worker runs`);
    const path = typeof p.archive === "string" ? w.archiveOf(p.containerId, p.archive) : undefined;
    if (!path)
      throw new ApiError(
        "not_found",
        `image archive ${String(p.archive).slice(0, 12)}… is not the image of container ${p.containerId}`,
      );
    const offset = p.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0) throw invalid("offset must be a non-negative integer");
    let fh: import("node:fs/promises").FileHandle;
    try {
      fh = await open(path, "r");
    } catch {
      throw new ApiError(
        "not_found",
        `image archive ${p.archive.slice(0, 12)}… is gone from the control plane (evicted): start the container again`,
      );
    }
    try {
      const size = (await fh.stat()).size;
      const buf = Buffer.alloc(Math.max(0, Math.min(BLOB_PART_BYTES, size - offset)));
      const { bytesRead } = await fh.read(buf, 0, buf.byteLength, offset);
      return { data: new Uint8Array(buf.buffer, buf.byteOffset, bytesRead), size };
    } finally {
      await fh.close();
    }
  }

  /** The volume services, once the object services exist (server.ts). */
  setVolumes(service: VolumeService, remote: RemoteVolumes): void {
    this.volumes = { service, remote };
  }

  private registered(link: WorkerLink): RemoteWorker {
    const w = this.workers.get(link);
    if (!w) throw new ApiError("failed_precondition", "the worker has not registered");
    return w;
  }

  private remoteVolumes(): RemoteVolumes {
    if (!this.volumes) throw new ApiError("unavailable", "this control plane has no volume service");
    return this.volumes.remote;
  }

  /** A container of this worker, named in a volume request. */
  private ownContainer(link: WorkerLink, containerId: unknown): string {
    const w = this.registered(link);
    if (typeof containerId !== "string" || !w.containers.has(containerId))
      throw new ApiError("permission_denied", `container ${String(containerId)} is not one this worker runs`);
    for (const s of this.syncs.values()) if (s.worker === w && s.containerId === containerId) s.timer.refresh();
    return containerId;
  }

  volumeManifest(link: WorkerLink, p: WorkerRequestMap["worker.volume.manifest"][0]) {
    return this.remoteVolumes().manifest(this.ownContainer(link, p.containerId), p.volumeId);
  }

  volumeRead(link: WorkerLink, p: WorkerRequestMap["worker.volume.read"][0]) {
    return this.remoteVolumes().read(this.ownContainer(link, p.containerId), p.volumeId, p.hash, p.offset ?? 0);
  }

  /** An open sync of this worker's. */
  private syncOf(link: WorkerLink, syncId: unknown, op: "commit" | "reload"): Sync {
    const w = this.registered(link);
    const s = typeof syncId === "string" ? this.syncs.get(syncId) : undefined;
    if (!s || s.worker !== w || s.op !== op)
      throw new ApiError("failed_precondition", `no volume ${op} ${String(syncId)} of this worker is open`);
    s.timer.refresh();
    return s;
  }

  async volumePut(link: WorkerLink, p: WorkerRequestMap["worker.volume.put"][0]): Promise<{ done: boolean }> {
    const s = this.syncOf(link, p.syncId, "commit");
    try {
      return await this.remoteVolumes().put(s, p);
    } catch (err) {
      this.endSync(p.syncId, err as Error);
      throw err;
    }
  }

  async volumeCommit(link: WorkerLink, p: WorkerRequestMap["worker.volume.commit"][0]): Promise<{ version: number }> {
    const s = this.syncOf(link, p.syncId, "commit");
    try {
      const r = await this.remoteVolumes().commit(s.containerId, s.volumeId, p.changes);
      this.endSync(p.syncId, r);
      return r;
    } catch (err) {
      this.endSync(p.syncId, err as Error);
      throw err;
    }
  }

  volumeDone(link: WorkerLink, p: WorkerRequestMap["worker.volume.done"][0]): Record<string, never> {
    this.syncOf(link, p.syncId, "reload");
    if (!Number.isSafeInteger(p.version)) throw invalid("version must be an integer");
    this.endSync(p.syncId, { version: p.version });
    return {};
  }

  /** Asks the worker running `containerId` to commit or reload its copy of a volume. */
  private requestSync(
    worker: RemoteWorker,
    containerId: string,
    volumeId: string,
    op: "commit" | "reload",
  ): Promise<{ version: number }> {
    let mine = 0;
    for (const s of this.syncs.values()) if (s.containerId === containerId) mine++;
    if (mine >= MAX_SYNCS_PER_CONTAINER)
      return Promise.reject(
        new ApiError(
          "failed_precondition",
          `this container has ${mine} volume commits/reloads in progress, the most it may`,
        ),
      );
    if (worker.lostReason) return Promise.reject(new Error(`worker ${worker.name} is gone (${worker.lostReason})`));
    const syncId = newId("vs");
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          this.endSync(
            syncId,
            new Error(`worker ${worker.name} made no progress on the volume ${op} for ${SYNC_IDLE_MS / 1000} s`),
          ),
        SYNC_IDLE_MS,
      );
      timer.unref();
      this.syncs.set(syncId, { worker, containerId, volumeId, op, resolve, reject, timer });
      worker.askSync({ syncId, containerId, volumeId, op });
    });
  }

  private endSync(syncId: string, r: { version: number } | Error): void {
    const s = this.syncs.get(syncId);
    if (!s) return;
    this.syncs.delete(syncId);
    clearTimeout(s.timer);
    void this.volumes?.remote.abandon(s);
    if (r instanceof Error) s.reject(r);
    else s.resolve(r);
  }

  private failSyncs(match: (s: Sync) => boolean, why: string): void {
    for (const [id, s] of [...this.syncs]) if (match(s)) this.endSync(id, new Error(`volume ${s.op} failed: ${why}`));
  }

  /** The link closed: its worker is lost. */
  closed(link: WorkerLink): void {
    const w = this.workers.get(link);
    if (w) this.lose(w, "its connection closed");
  }

  private lose(w: RemoteWorker, why: string): void {
    for (const [link, x] of this.workers) if (x === w) this.workers.delete(link);
    this.placement.removeHost(w.id);
    this.failSyncs((s) => s.worker === w, `worker ${w.name} was lost (${why})`);
    const running = w.containers.size;
    w.lost(why);
    this.o.log(`worker ${w.name} lost (${why}): ${running} container(s) gone with it`);
    this.lostRecently.unshift({ ...this.info(w), state: "lost" });
    this.lostRecently.length = Math.min(this.lostRecently.length, LOST_KEPT);
  }

  private checkLeases(): void {
    const now = Date.now();
    for (const w of [...this.workers.values()]) {
      if (now - w.lastHeardAt > this.leaseMs)
        this.lose(w, `not heard from for ${Math.round((now - w.lastHeardAt) / 100) / 10} s`);
    }
  }

  private info(w: RemoteWorker): WorkerInfo {
    const fns = new Set<string>();
    let memory = 0;
    let gpus = 0;
    for (const c of w.containers.values()) {
      fns.add(`${c.spec.appName}.${c.spec.functionName}`);
      memory += c.spec.memoryMiB ?? DEFAULT_CONTAINER_MIB;
      gpus += c.spec.gpuCount;
    }
    return {
      workerId: w.id,
      name: w.name,
      address: w.address,
      state: "connected",
      capacity: w.capacity,
      containers: w.containers.size,
      memoryMiBUsed: memory,
      gpusUsed: gpus,
      functions: [...fns].slice(0, 20),
      connectedAt: w.connectedAt,
      lastHeardAt: w.lastHeardAt,
    };
  }

  list(): WorkerInfo[] {
    return [...[...this.workers.values()].map((w) => this.info(w)), ...this.lostRecently];
  }

  close(): void {
    clearInterval(this.timer);
    for (const w of [...this.workers.values()]) this.lose(w, "the control plane is shutting down");
  }
}
