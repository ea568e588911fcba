/** How a container's process is wrapped: bubblewrap, or nothing where it is missing. */
export interface Sandbox {
  readonly name: "bubblewrap" | "none";
  /** The command line that runs `argv` inside the sandbox. */
  command(argv: string[], opts: SandboxOptions): { file: string; args: string[] };
  /** Where the runtime may write, as seen from inside. */
  workdir(hostWorkdir: string): string;
  /** The control socket's path as seen from inside. */
  socketPath(hostSocket: string): string;
  /**
   * Whether `command` hides host path `hostPath` when asked to (it lies where the sandbox
   * shows the host): a path it does not show needs no hiding, whenever it appeared.
   */
  hides(hostPath: string, expose: string[]): boolean;
  /** Removes what the sandbox made on the host; called once its containers are gone. */
  dispose?(): void;
}

export interface SandboxOptions {
  /** Per-container scratch directory on the host (used only without a sandbox). */
  hostWorkdir: string;
  controlSocket: string;
  blockNetwork: boolean;
  /** Host paths the container must not see (the server's data dir, the config file). */
  hide: string[];
  /**
   * Host paths the runtime needs that lie under a directory the sandbox replaces (a Skiff
   * installed under /tmp): shown again, read-only, before `hide` is applied.
   */
  expose: string[];
  /** Host directories mounted at a path inside (volume copies). */
  mounts?: { hostPath: string; mountPath: string; readOnly: boolean }[];
  /** Device files shown inside at the same path (a GPU worker's share of its GPUs). */
  devices?: string[];
  /** The runtime's own directory, shown read-only at `inside` (runtime-dir.ts). */
  runtimeDir?: { host: string; inside: string };
  /** bubblewrap runs as root and the command drops to another user itself (identity.ts). */
  privileged?: boolean;
  /** bubblewrap writes its child's pid (JSON) to this descriptor (to attach NAT to its network). */
  infoFd?: number;
  /** Size of the container's /tmp (writes past it fail with ENOSPC). */
  tmpSizeBytes?: number;
}
