import type { ImageBuildProgress, ImageBuildStepResult, ImageLayerInfo, ImageWire } from "./images.js";

/**
 * A worker provider starts and stops containers. The engine uses only this interface: it
 * never imports a sandbox. Implementations: the local provider (this host, bubblewrap or
 * plain processes) in @skiff/worker, and the server's placement over that and the remote
 * worker agents (`skiff worker`), which run a local provider of their own.
 *
 * A started container connects back to the control plane on its own (over `controlSocket`
 * with `token`); the provider only reports the process's output and its end.
 */
export interface WorkerProvider {
  readonly name: string;
  /** Starts one container. Resolves once the process is started (not yet connected). */
  start(spec: ContainerSpec, events: ContainerEvents): Promise<ContainerHandle>;
  /** GPU types this provider can place ("H100", …); empty when it has none. */
  gpuTypes(): string[];
  /**
   * Why no host connected now could ever run a container with these needs (a deploy warns);
   * undefined when one could. Absent: the provider cannot tell.
   */
  unplaceable?(needs: Pick<ContainerSpec, "memoryMiB" | "gpu" | "imageKey">): string | undefined;
  /**
   * Whether a container with these needs could be placed now (a host has room); absent: the
   * provider cannot tell. The fleet asks before starting one, and waits for room otherwise.
   */
  hasRoom?(needs: Pick<ContainerSpec, "memoryMiB" | "gpu">): boolean;
  /**
   * Whether the host named `host` (as `onPlaced` and `ContainerHandle.host` name it) could ever
   * run a container with these needs (its GPUs and memory, were it empty); absent: the provider
   * cannot tell. The fleet stops an idle container to make room only on a host where that helps.
   */
  couldRunOn?(host: string, needs: Pick<ContainerSpec, "memoryMiB" | "gpu">): boolean;
  /** Calls `fn` when room may have appeared (a container ended, a host joined). */
  onCapacityFreed?(fn: () => void): void;
  /** Stops every container it started. */
  close(): Promise<void>;
  /** Builds and stores images (api.md §1a); absent where this provider cannot run images. */
  readonly images?: ImageBuilder;
}

/** Thrown by a build: `message` names the step and holds its output's tail and exit status. */
export class ImageBuildError extends Error {
  override name = "ImageBuildError";
}

/** The control plane's image builder: layers built once, content-addressed, on this host. */
export interface ImageBuilder {
  /** What this host lacks to build or run images (undefined when it has all it needs). */
  unavailable(): string | undefined;
  /**
   * Builds what is missing of `image` and returns its last layer's key. `files` returns the
   * bytes of an uploaded blob (addLocalDir/addLocalFile). Throws ImageBuildError.
   */
  build(
    image: ImageWire,
    files: (blobId: string) => Promise<Uint8Array | undefined> | Uint8Array | undefined,
    onEvent?: (e: ImageBuildProgress) => void,
  ): Promise<{ key: string; steps: ImageBuildStepResult[] }>;
  /** Every stored layer; `inUse` maps a last-layer key to the apps that use it. */
  list(inUse: Map<string, string[]>): { layers: ImageLayerInfo[]; bytes: number; limitBytes: number };
  /** Removes the layers that no image in `inUse` is built on. */
  prune(inUse: Set<string>): { removed: number; bytes: number };
  /** Called before evicting to stay under the size limit: the keys live apps use. */
  setInUse(fn: () => Set<string>): void;
  /**
   * The image `key` as one archive for a worker: its root file system as a tar, made once and
   * kept (bounded, least recently used first) under the image store. Throws when the image is
   * not built here.
   */
  export?(key: string): Promise<ImageExport>;
  /** Stops builds in progress (nothing half-built stays). */
  close(): void;
}

/** An image's root file system as one archive (ImageBuilder.export). */
export interface ImageExport {
  /** sha256 (hex) of the archive. */
  archive: string;
  size: number;
  /** The archive on this host. */
  path: string;
  env: Record<string, string>;
  workdir: string | undefined;
}

export interface ContainerSpec {
  containerId: string;
  /** Container-scoped secret the runtime presents at hello. */
  token: string;
  appId: string;
  appName: string;
  functionId: string;
  functionName: string;
  /** The app's environment (the default for lookups made inside the container). */
  environment: string;
  /** Unix socket of the control plane, reachable from inside the sandbox. */
  controlSocket: string;
  /** Function env, then secrets: the only variables the user code sees besides Skiff's. */
  env: Record<string, string>;
  blockNetwork: boolean;
  memoryMiB?: number;
  cpu?: number;
  gpu?: string;
  /** The last layer of the function's image; unset: the host's own system. */
  imageKey?: string;
  /**
   * Host directories to mount (volume copies), read-write unless readOnly. `volumeId`: the
   * volume it is a copy of (a remote worker makes its own copy of it).
   */
  mounts?: { hostPath: string; mountPath: string; readOnly: boolean; volumeId?: string }[];
  /** Content id (`bl-<sha256>`) of the app bundle: a remote worker fetches and caches it. */
  bundleBlobId?: string;
  /**
   * The bundle's bytes, already fetched and verified (remote workers): handed to the runtime
   * with its assignment, so the control plane does not send it again.
   */
  bundle?: Uint8Array;
  /**
   * With `bundle`: the runtime loads it as soon as it has its assignment, while its connection
   * to the control plane opens, instead of once the control plane's assignment comes (set by the
   * control plane for a function's container, never for a `skiff shell` one, which runs no code).
   */
  preloadBundle?: boolean;
  /** Device files passed into the container (a GPU worker's share of its devices). */
  devices?: string[];
}

export interface ContainerEvents {
  /** Output the process wrote outside the runtime's own capture (crashes, native code). */
  onOutput(stream: "stdout" | "stderr", text: string): void;
  /** The process ended, for any reason. Called once. `why` overrides the exit status in messages. */
  onExit(code: number | null, signal: string | null, why?: string): void;
  /**
   * Where the container was placed ("local" or a worker's name), before it is started there:
   * a container on a remote worker gets its bundle from the worker, not in its assignment.
   */
  onPlaced?(host: string): void;
}

export interface ContainerHandle {
  readonly containerId: string;
  readonly pid: number | undefined;
  /** Kills the container now (SIGKILL). */
  kill(): void;
  /** The runtime was handed `spec.bundle` with its assignment: the control plane need not send it again. */
  readonly bundleGiven?: boolean;
  /** Where it runs: "local" for this host, else the worker's name. @defaultValue "local" */
  readonly host?: string;
  /** CPU time (ms) and resident memory (bytes) of its processes, where the host can tell. */
  usage?(): { cpuMs: number; memoryBytes: number } | undefined;
  /**
   * Its memory alone, as usage() reports it, where the host reads that more cheaply (one
   * cgroup file, not a walk of its processes in /proc): what placement re-reads each second
   * for every container it counts by measurement. Absent: usage() is read.
   */
  memoryBytes?(): number | undefined;
}
