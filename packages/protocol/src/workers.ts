/**
 * The worker agent's side of the contract (api.md §7a): what `skiff worker` and the control
 * plane say to each other over the agent's one WebSocket. The agent dials out, says hello with
 * role "worker" and a worker token, registers its capacity, then receives container starts and
 * kills and reports their output and exits, with a heartbeat that renews its lease.
 * Containers' own connections do not travel here: the agent relays each as its own stream.
 */
import type { ContainerSpec } from "./provider.js";

/**
 * Version of this contract; a worker speaking another one is refused at register. 2: images
 * and volumes on workers (a version-1 worker would run such a container without them). 3: its
 * containers take inputs as columns with hand-out numbers (inputs.cols, outputs.cols), which a
 * version-2 worker's runtime would ignore, leaving its inputs unanswered. 4: its relay carries
 * its containers' framed stream in an upgrade on the public port (docs/protocol.md §1a), which a
 * version-3 control plane answers with 404, leaving its containers unconnected.
 */
export const WORKER_PROTOCOL_VERSION = 4;

/** How often an agent sends a heartbeat. */
export const WORKER_HEARTBEAT_MS = 1000;
/** A worker not heard from for this long is gone: its containers are lost, its inputs handed out again. */
export const WORKER_LEASE_MS = 4000;

/** GPUs of one type on a worker. */
export interface GpuAdvert {
  type: string;
  count: number;
}

export interface WorkerCapacity {
  /** Containers it runs at once. */
  maxContainers: number;
  /** Memory it gives containers, in MiB (a container without memoryMiB counts DEFAULT_CONTAINER_MIB). */
  memoryMiB: number;
  gpus: GpuAdvert[];
}

/** Memory a container without `memoryMiB` is counted as, for placement. */
export const DEFAULT_CONTAINER_MIB = 128;

/**
 * The image of a container on a worker: its root file system as one archive (a tar of the
 * image's last layer, built on the control plane), fetched by content hash and cached there.
 */
export interface RemoteImage {
  /** The image's last layer key (ContainerSpec.imageKey): the worker's cache key. */
  key: string;
  /** sha256 (hex) of the archive: what the worker asks for and verifies. */
  archive: string;
  /** Bytes of the archive. */
  size: number;
  env: Record<string, string>;
  workdir?: string;
}

/** A volume a container on a worker mounts: its copy is made and synced by the worker. */
export interface RemoteVolume {
  volumeId: string;
  mountPath: string;
  readOnly: boolean;
}

/** A file of a volume version, as the worker syncs it. */
export interface VolumeFileWire {
  path: string;
  hash: string;
  size: number;
}

/** What a container start sent to a worker carries: the provider's spec without host paths. */
export type RemoteContainerSpec = Omit<ContainerSpec, "controlSocket" | "mounts" | "bundle" | "devices"> & {
  bundleBlobId: string;
  /** GPUs of the worker this container gets (0: none). */
  gpuCount: number;
  /** Set with imageKey. */
  image?: RemoteImage;
  volumes?: RemoteVolume[];
};

/** One worker as `skiff worker list` shows it. */
export interface WorkerInfo {
  workerId: string;
  name: string;
  /** Address it connected from. */
  address: string;
  state: "connected" | "lost";
  capacity: WorkerCapacity;
  containers: number;
  memoryMiBUsed: number;
  gpusUsed: number;
  /** Functions with containers there ("app.fn"). */
  functions: string[];
  connectedAt: number;
  lastHeardAt: number;
}

export interface WorkerRequestMap {
  /** worker -> server, once after hello: who it is and what it can run. */
  "worker.register": [
    { v: number; name: string; capacity: WorkerCapacity },
    { workerId: string; heartbeatMs: number; leaseMs: number },
  ];
  /** worker -> server: part of the bundle of a container placed on it (by content id). */
  "worker.bundle": [{ containerId: string; offset?: number }, { data: Uint8Array; size: number }];
  /** worker -> server: part of the image archive (by its sha256) of a container placed on it. */
  "worker.layer": [{ containerId: string; archive: string; offset?: number }, { data: Uint8Array; size: number }];
  /**
   * worker -> server: the newest version of a volume a container here mounts (its files), which
   * the worker brings its copy to; that version stays pinned (its content kept) for the copy.
   */
  "worker.volume.manifest": [{ containerId: string; volumeId: string }, { version: number; files: VolumeFileWire[] }];
  /** worker -> server: part of a file's content (by hash) of that volume's newest version. */
  "worker.volume.read": [
    { containerId: string; volumeId: string; hash: string; offset?: number },
    { data: Uint8Array; size: number },
  ];
  /**
   * worker -> server, during a commit sync: part of a changed file's content, parts in order;
   * `done` once the server has all of it (verified against `hash`) or already had it.
   */
  "worker.volume.put": [
    { syncId: string; hash: string; size: number; offset: number; data: Uint8Array },
    { done: boolean },
  ];
  /** worker -> server, ending a commit sync: the copy's changes (hash null: removed); a new version. */
  "worker.volume.commit": [
    { syncId: string; changes: { path: string; hash: string | null; size: number }[] },
    { version: number },
  ];
  /** worker -> server, ending a reload sync: the copy is now at `version`. */
  "worker.volume.done": [{ syncId: string; version: number }, Record<string, never>];
  /** admin: the workers known to this control plane. */
  "worker.list": [Record<string, never>, { workers: WorkerInfo[] }];
}

export interface WorkerEventMap {
  /** server -> worker: start this container. */
  "worker.start": { spec: RemoteContainerSpec };
  /** server -> worker: kill this container now. */
  "worker.kill": { containerId: string };
  /** server -> worker: a message of the worker's was refused (it names what and why). */
  "worker.refused": { message: string };
  /** worker -> server: the container's process started (or could not: `error`). */
  "worker.started": { containerId: string; pid?: number; error?: string };
  /** worker -> server: output its process wrote outside the runtime's capture. */
  "worker.output": { containerId: string; stream: "stdout" | "stderr"; text: string };
  /** worker -> server: its process ended. */
  "worker.exit": { containerId: string; code: number | null; signal: string | null };
  /**
   * server -> worker: a container called commit() or reload() on a volume whose copy is on
   * the worker: it answers with worker.volume.commit or worker.volume.done (or .failed).
   */
  "worker.volume.sync": { syncId: string; containerId: string; volumeId: string; op: "commit" | "reload" };
  /** worker -> server: a sync could not be done (it names why). */
  "worker.volume.failed": { syncId: string; message: string };
  /** worker -> server: still here; the containers it runs. */
  "worker.heartbeat": { containers: string[] };
}

/** A GPU request of a function: acceptable types (empty: any) and how many. */
export interface GpuNeed {
  types: string[];
  count: number;
}

/**
 * Parses a function's `gpu` option: "any", "H100", "H100:2", or a list of acceptable types
 * ("H100,A100:2" — one count for all; a list travels comma-joined). Returns an error string.
 */
export function parseGpuNeed(gpu: string): GpuNeed | string {
  const [typesPart, countPart, extra] = gpu.split(":");
  if (extra !== undefined) return `gpu "${gpu}" has more than one ":" (write "TYPE" or "TYPE:COUNT")`;
  const count = countPart === undefined ? 1 : Number(countPart);
  if (!Number.isInteger(count) || count < 1 || count > 64)
    return `gpu "${gpu}": the count after ":" must be an integer from 1 to 64`;
  const types = typesPart!
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  if (types.length === 0) return `gpu "${gpu}" names no GPU type (write "any", "H100" or "H100:2")`;
  return { types: types.some((t) => t.toLowerCase() === "any") ? [] : types, count };
}

/** Whether a worker's GPU type satisfies a requested one ("H100" matches "NVIDIA H100 80GB HBM3"). */
export function gpuTypeMatches(have: string, want: string): boolean {
  return have.toLowerCase().includes(want.toLowerCase());
}

/** Parses `skiff worker --gpus "H100:8,A100:2"`. Returns an error string for nonsense. */
export function parseGpuAdverts(s: string): GpuAdvert[] | string {
  const out: GpuAdvert[] = [];
  for (const part of s.split(",")) {
    const item = part.trim();
    if (!item) continue;
    const m =
      /^([A-Za-z][A-Za-z0-9 _.-]{0,63}):(\d{1,3})$/.exec(item) ?? /^([A-Za-z][A-Za-z0-9 _.-]{0,63})$/.exec(item);
    const count = m?.[2] === undefined ? 1 : Number(m[2]);
    if (!m || count < 1 || count > 64)
      return `--gpus: "${item}" is not TYPE:COUNT with a GPU type (letters, digits, - _ .) and a count from 1 to 64, e.g. "H100:8"`;
    out.push({ type: m[1]!, count });
  }
  if (out.length === 0) return `--gpus: "${s}" names no GPUs (e.g. "H100:8")`;
  return out;
}
