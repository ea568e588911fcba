import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type ContainerEvents,
  type ContainerHandle,
  type ContainerSpec,
  trace,
  type WorkerProvider,
} from "@skiff/protocol";
import { LocalImageBuilder } from "./images/builder.js";
import { IMAGE_PATH } from "./images/run-step.js";
import { processTreeUsage } from "./proc-usage.js";
import { detectSandbox, type SandboxChoice } from "./sandbox/detect.js";
import type { RuntimeChild } from "./sandbox/helper-child.js";
import { asUser, type ContainerUser, containerIdentity } from "./sandbox/identity.js";
import { IMAGE_NODE_MODULES, IMAGE_SOCKET, imageRootCommand, runAsEnv, runtimeBinds } from "./sandbox/image-root.js";
import { sandboxChildPid } from "./sandbox/info-fd.js";
import {
  type ContainerCgroup,
  detectLimiter,
  type Limiter,
  type LimitsChoice,
  limitsFor,
  wrapCommand,
} from "./sandbox/limits.js";
import { NatNetwork } from "./sandbox/network.js";
import { signalPid } from "./sandbox/pid-file.js";
import { runtimeBundle } from "./sandbox/runtime-bundle.js";
import { RUNTIME_INSIDE, RuntimeDir } from "./sandbox/runtime-dir.js";
import type { Sandbox } from "./sandbox/sandbox.js";
import { CommandHelper } from "./sandbox/spawner.js";

export interface LocalProviderOptions {
  /** The control plane's unix socket (lets the provider pre-start containers). */
  controlSocket?: string;
  /**
   * The control socket reads the framed stream (protocol framed-stream.ts): a Skiff server's
   * own, or a worker's relay (which carries it to the server's public port in an upgrade). Its
   * runtimes speak that instead of WebSocket. @defaultValue false
   */
  framedControl?: boolean;
  /** @defaultValue "auto" (bubblewrap if it works here, else plain processes with a warning) */
  sandbox?: SandboxChoice;
  /** Host paths containers must not see: the server's data directory, the config file. */
  hide?: string[];
  /** GPU types on this host; detected with nvidia-smi when not given. */
  gpuTypes?: string[];
  /** Runtime processes kept started and idle, so a scale-up skips process start. @defaultValue 2 */
  warmPool?: number;
  /**
   * Make network namespaces ahead (NAT and fence ready) as the provider starts. False: only
   * once the first container has started (an embedded server of one `skiff run`, where three
   * pasta processes made at start, then removed, cost the run more than they save it).
   * @defaultValue true
   */
  spareNetworksAtStart?: boolean;
  /**
   * How long after a pooled runtime is handed a container its replacement is started. Spawning
   * one (by the command helper, or a fork of this process before it is ready) boots a runtime
   * (tens of ms of CPU): at once, that competes with
   * the container it replaces, which is just starting its first input. An embedded server of
   * one `skiff run` sets it, so its first result does not wait behind a runtime it may never
   * use; a burst is not slowed, as containers that find the pool empty are started directly.
   * @defaultValue 0 (in the same turn's next tick)
   */
  refillDelayMs?: number;
  /**
   * Runtime processes alive at once, warm-pool ones included (the host's container capacity):
   * the pool is not refilled past it, and an idle pooled process makes way for a container
   * that cannot use it. @defaultValue unlimited
   */
  maxProcesses?: number;
  /** Memory and process-count caps per container: cgroups where this host allows them. @defaultValue "auto" */
  limits?: LimitsChoice;
  /** Host user containers run as when the server is root (identity.ts). @defaultValue nobody (65534) */
  containerUser?: ContainerUser;
  /** Size of each container's /tmp, counted against its memory limit. @defaultValue 512 */
  tmpSizeMiB?: number;
  /** Where image layers and build caches live, and their size limit (api.md §1a). */
  images?: { dir: string; limitBytes?: number };
  /** Where images come from when this host does not build them (a worker's cache of fetched images). */
  imageRoots?: {
    resolve(key: string): { root: string; env: Record<string, string>; workdir: string | undefined } | undefined;
  };
  log?: (msg: string) => void;
}

/** Image pools kept warm at once: the images used most recently. */
const MAX_IMAGE_POOLS = 4;

/**
 * The warm pool grows with demand: to the number of containers a burst of starts (starts
 * with no pause of POOL_GROW_QUIET_MS between them) asked of it, up to POOL_GROWTH times the size asked for (`--warm-pool`; 2 → 8 runtimes,
 * ~50 MiB each). The runtimes beyond that size are started once container starts pause for
 * POOL_GROW_QUIET_MS (started during a burst, beside the starts the fleet bounds, they took
 * CPU from them: a loaded machine's starts come several hundred ms apart), and
 * the pool shrinks back to its size after POOL_SHRINK_IDLE_MS without a start. Each runtime
 * is still given to one container only, once.
 */
const POOL_GROWTH = 4;
const POOL_GROW_QUIET_MS = 2000;
const POOL_SHRINK_IDLE_MS = 60_000;

interface ImageRun {
  key: string;
  root: string;
  env: Record<string, string>;
  workdir: string | undefined;
}

/** The runtime's module graph as tsc wrote it (used where the bundle is missing or stale). */
const GRAPH_ENTRY = fileURLToPath(new URL("./runtime/main.js", import.meta.url));

/** System directories the sandbox shows anyway (see bubblewrap.ts). */
const SHOWN = ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc"];

/** Node's install prefix (…/bin/node -> …) when the sandbox does not show it already. */
function nodePrefix(): string[] {
  const node = realpathSync(process.execPath);
  return SHOWN.some((r) => node.startsWith(`${r}/`)) ? [] : [dirname(dirname(node))];
}

interface Proc {
  child: RuntimeChild;
  hostWorkdir: string;
  events: ContainerEvents | undefined;
  exited: boolean;
  containerId: string | undefined;
  /** Hidden paths that existed when the sandbox was made (only those are hidden in it). */
  hidden: string[];
  cgroup: ContainerCgroup | undefined;
  /** Settles when the container's network is ready (NAT attached); its assignment waits for it. */
  ready: Promise<void>;
  /** The image it runs in ("" for the host's system). */
  imageKey: string;
}

/**
 * Runs containers as processes on this host, each in its own sandbox. Keeps a few runtime
 * processes pre-started (a warm pool) for containers with the default sandbox settings.
 */
export class LocalProvider implements WorkerProvider {
  readonly name = "local";
  readonly sandbox: Sandbox;
  /** What caps containers' memory and processes here (see limits.ts). */
  readonly limiter: Limiter;
  private readonly procs = new Set<Proc>();
  private readonly pool: Proc[] = [];
  /** Warm runtimes per image, for the images used most recently (Map order: least recent first). */
  private readonly imagePools = new Map<string, { image: ImageRun; procs: Proc[] }>();
  /** Builds and stores images; undefined when no image directory was given. */
  readonly images: LocalImageBuilder | undefined;
  private imageRuntime: ReturnType<typeof runtimeBinds> | undefined;
  /** The runtime's entry on the host: the bundle's where there is one (runtime-bundle.ts). */
  private readonly runtimeEntry: string;
  private readonly bundled: boolean;
  private readonly hide: string[];
  private readonly expose: string[];
  private readonly poolSize: number;
  /** What the host-system pool is kept at now: poolSize, more after a burst (POOL_GROWTH). */
  private poolTarget: number;
  private lastPoolStart = 0;
  private burstStarts = 0;
  private growTimer: NodeJS.Timeout | undefined;
  private shrinkTimer: NodeJS.Timeout | undefined;
  /** What the runtime loads, in a read-only directory of its own (sandboxed containers only). */
  private readonly runtimeDir: RuntimeDir | undefined;
  /** The host user containers run as (a root server only). */
  private readonly user: ContainerUser | undefined;
  /** Outbound NAT in a network namespace of the container's own (network.ts). */
  private readonly nat: NatNetwork | undefined;
  /**
   * A small process that forks for this one: it starts the containers' processes (and runs the
   * NAT scripts), so the server never forks itself for them once it is ready (spawner.ts).
   */
  private readonly helper = new CommandHelper();
  private gpus: string[] | undefined;
  private readonly maxProcesses: number;
  private closed = false;
  private poolFailures = 0;
  private seq = 0;
  /** The control sockets this provider's sandboxes bind: their mark, for killOrphans. */
  private readonly sockets = new Set<string>();

  constructor(private readonly opts: LocalProviderOptions = {}) {
    const { sandbox, warning } = detectSandbox(opts.sandbox ?? "auto");
    this.sandbox = sandbox;
    const log = opts.log ?? ((m: string) => console.error(`[skiff] ${m}`));
    if (warning) log(`warning: ${warning}`);
    this.limiter = detectLimiter(opts.limits ?? "auto");
    log(
      this.limiter.kind === "none"
        ? `warning: containers have no memory or process-count limits: ${this.limiter.description}`
        : `container limits: ${this.limiter.description}`,
    );
    this.hide = opts.hide ?? [];
    const { bundle, why } = runtimeBundle();
    if (why) log(`warning: containers load the runtime unbundled, slower to start: ${why}`);
    this.runtimeEntry = bundle ? join(bundle.dir, bundle.entry) : GRAPH_ENTRY;
    this.bundled = bundle !== undefined;
    if (this.sandbox.name === "bubblewrap") {
      this.runtimeDir = new RuntimeDir(bundle);
      const id = containerIdentity(opts.containerUser);
      if (id.warning) log(`warning: ${id.warning}`);
      this.user = id.user;
      const { nat, why } = NatNetwork.detect(this.helper);
      this.nat = nat;
      if (opts.spareNetworksAtStart !== false) nat?.prepareSpares();
      if (why) log(`warning: containers share the host's network, its loopback services included: ${why}`);
    }
    // Node's own install folder when it is not under /usr; the runtime comes from runtimeDir.
    this.expose = this.sandbox.name === "bubblewrap" ? nodePrefix() : [];
    this.gpus = opts.gpuTypes;
    this.poolSize = opts.controlSocket ? (opts.warmPool ?? 2) : 0;
    this.maxProcesses = opts.maxProcesses ?? Number.POSITIVE_INFINITY;
    this.poolTarget = this.poolSize;
    if (opts.images) this.images = new LocalImageBuilder({ ...opts.images, log });
    // Off a `skiff run`'s path as the spare networks are (booting it beside that run's only
    // container would cost it more than the forks it saves); there, NatNetwork starts it later.
    if (opts.spareNetworksAtStart !== false && opts.controlSocket) this.helper.start();
    this.refill();
  }

  gpuTypes(): string[] {
    if (!this.gpus) {
      // Where nvidia-smi is not on PATH (most hosts), no process is spawned to find out: a
      // server starting (each `skiff run`) paid a failed spawn for it.
      this.gpus = onPath("nvidia-smi") ? nvidiaGpus() : [];
    }
    return this.gpus;
  }

  /**
   * Starts a runtime that waits for its container on stdin. Credentials and secrets travel
   * that way, never in the process environment (readable in /proc/<pid>/environ).
   */
  private spawnRuntime(o: {
    controlSocket: string;
    blockNetwork?: boolean;
    memoryMiB?: number | undefined;
    mounts?: ContainerSpec["mounts"];
    image?: ImageRun | undefined;
    cpu?: number | undefined;
    devices?: string[] | undefined;
    /** Started for the warm pool (idle until given a container), not for a waiting one. */
    pooled?: boolean;
  }): Proc {
    const { controlSocket, blockNetwork = false, memoryMiB, mounts = [], image, cpu, devices = [], pooled = false } = o;
    if (mounts.length > 0 && this.sandbox.name === "none")
      throw new Error("volumes need the bubblewrap sandbox (this server runs containers as plain processes)");
    const hostWorkdir = this.sandbox.name === "none" ? mkdtempSync(join(tmpdir(), "skiff-ct-")) : "";
    this.sockets.add(controlSocket);
    const workdir = image ? "/tmp" : this.sandbox.workdir(hostWorkdir);
    const baseEnv: Record<string, string> = {
      PATH: image ? IMAGE_PATH : (process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin"),
      HOME: workdir,
      LANG: process.env.LANG ?? "C.UTF-8",
      ...(image ? image.env : {}),
      SKIFF_ASSIGN_VIA_STDIN: "1",
      // Only a pooled runtime, idle until it is given a container, warms its WebSocket
      // handshake: one started for a container makes its real handshake at once, and the
      // warm-up (a server of its own, ~30 ms of CPU) would cost it more than it saves.
      ...(pooled ? { SKIFF_POOLED: "1" } : {}),
      SKIFF_CONTROL_SOCKET: image ? IMAGE_SOCKET : this.sandbox.socketPath(controlSocket),
      ...(this.opts.framedControl ? { SKIFF_CONTROL_FRAMED: "1" } : {}),
      SKIFF_WORKDIR: workdir,
      ...(image ? { SKIFF_NODE_MODULES: IMAGE_NODE_MODULES } : {}),
    };
    const nodeArgs = memoryMiB ? [`--max-old-space-size=${memoryMiB}`] : [];
    // Profiling the runtime (e.g. `--cpu-prof --cpu-prof-dir=/abs/dir` with `--sandbox none`):
    // node flags for every container this server starts; set by whoever starts the server.
    const debugArgs = process.env.SKIFF_CONTAINER_NODE_ARGS;
    if (debugArgs) nodeArgs.push(...debugArgs.split(" ").filter(Boolean));
    const entry = this.runtimeDir ? this.runtimeDir.entryInside : this.runtimeEntry;
    const argv = [process.execPath, ...nodeArgs, entry];
    const limits = limitsFor(memoryMiB, cpu);
    const natNet = blockNetwork ? undefined : this.nat;
    // A namespace made ahead (NAT and fence ready) is joined before the sandbox starts; without
    // one ready, the sandbox makes its own and pasta attaches to it once it runs (ready waits).
    const joined = natNet?.takeReady();
    const nat = joined ? undefined : natNet;
    const tmpSizeBytes = Math.min(limits.memoryBytes, (this.opts.tmpSizeMiB ?? 512) * 1024 * 1024);
    // A volume's local copy belongs to the server's user (its files may be links into the
    // content store): a container that mounts one runs as before, as that user in a user
    // namespace, until copies can be owned by the container's user (docs/security.md).
    const user = mounts.length > 0 ? undefined : this.user;
    if (image) {
      this.imageRuntime ??= runtimeBinds(this.runtimeEntry, this.bundled);
      // The runtime in an image drops to the container's user itself (drop-privileges.ts).
      Object.assign(baseEnv, runAsEnv(user));
    }
    // An image container sees only its image (and the runtime under /opt/skiff), in a user
    // namespace of its own; network and /tmp as any other container.
    const sandboxed = image
      ? imageRootCommand({
          bwrap: (this.sandbox as { bwrapPath?: string }).bwrapPath ?? "bwrap",
          root: image.root,
          workdir: image.workdir,
          node: realpathSync(process.execPath),
          runtime: this.imageRuntime!,
          controlSocket,
          blockNetwork,
          ...(nat ? { nat: { infoFd: 3 } } : {}),
          tmpSizeBytes,
          nodeArgs,
          mounts,
          ...(user ? { runAs: user } : {}),
        })
      : this.sandbox.command(user ? asUser(user, argv) : argv, {
          hostWorkdir,
          controlSocket,
          // With NAT the container has a network namespace of its own, which pasta connects.
          blockNetwork: blockNetwork || nat !== undefined,
          ...(nat ? { infoFd: 3 } : {}),
          hide: this.hide,
          expose: this.expose,
          mounts,
          devices,
          ...(this.runtimeDir ? { runtimeDir: { host: this.runtimeDir.path, inside: RUNTIME_INSIDE } } : {}),
          privileged: user !== undefined,
          tmpSizeBytes,
        });
    // Fail closed: where this host enforces limits, a container whose cgroup cannot be made
    // does not start (it would run with no memory or process cap). Only a host with no usable
    // cgroups at all runs containers unlimited, as the server warned at start.
    let cgroup: ContainerCgroup | undefined;
    try {
      cgroup = this.limiter.create(`ct-${++this.seq}`, limits);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new Error(
        `could not create the container's cgroup, so it was not started without its memory and process limits (${e.code ? `${e.code}: ` : ""}${e.message}); the server's start line says where container cgroups are made (docs/security.md)`,
      );
    }
    const inNetns = joined ? joined.wrap(sandboxed.file, sandboxed.args) : sandboxed;
    const { file, args } = wrapCommand(inNetns.file, inNetns.args, cgroup);
    trace(`provider: spawn runtime${pooled ? " (pool)" : ""}`);
    const cwd = hostWorkdir || "/";
    const fds = nat ? 4 : 3;
    // Started by the command helper once it is ready; by this process until then (or if it died).
    const child: RuntimeChild =
      this.helper.spawn(file, args, { env: baseEnv, cwd, fds }) ??
      (spawn(file, args, { env: baseEnv, cwd, stdio: Array(fds).fill("pipe") }) as RuntimeChild);
    let detach: (() => Promise<void>) | undefined = joined?.remove;
    const ready = nat
      ? sandboxChildPid(child).then(async (pid) => {
          detach = await nat.attach(pid);
          if (proc.exited) await detach();
        })
      : Promise.resolve();
    ready.catch(() => {}); // awaited by start(); a pooled process may die before that
    const hidden = this.hide.filter((p) => existsSync(p));
    const proc: Proc = {
      child,
      hostWorkdir,
      events: undefined,
      exited: false,
      containerId: undefined,
      hidden,
      cgroup,
      ready,
      imageKey: image?.key ?? "",
    };
    this.procs.add(proc);
    child.stdin!.on("error", () => {}); // a process that died before reading its assignment
    child.stdout!.setEncoding("utf8").on("data", (t: string) => proc.events?.onOutput("stdout", t));
    child.stderr!.setEncoding("utf8").on("data", (t: string) => proc.events?.onOutput("stderr", t));
    const onEnd = (code: number | null, signal: string | null) => {
      if (proc.exited) return;
      trace("provider: runtime exited");
      proc.exited = true;
      this.procs.delete(proc);
      const pool = proc.imageKey ? this.imagePools.get(proc.imageKey)?.procs : this.pool;
      const i = pool ? pool.indexOf(proc) : -1;
      if (pool && i >= 0) {
        // A pooled process died while idle: try again later, not in a loop.
        pool.splice(i, 1);
        this.poolFailures++;
        if (!this.closed) setTimeout(() => this.refill(), Math.min(30_000, 200 * 2 ** this.poolFailures)).unref();
      }
      if (hostWorkdir) rmSync(hostWorkdir, { recursive: true, force: true });
      void detach?.();
      if (cgroup) {
        if (cgroup.oomKilled()) {
          const cap = Math.round(limitsFor(memoryMiB).memoryBytes / 1024 / 1024);
          proc.events?.onOutput("stderr", `the container went over its memory limit (${cap} MiB) and was killed\n`);
        }
        // Whatever it forked (a fork bomb's leftovers) goes with it.
        void cgroup.remove();
      }
      proc.events?.onExit(code, signal);
    };
    child.on("exit", onEnd);
    child.on("error", (err) => {
      proc.events?.onOutput("stderr", `could not start the container process: ${err.message}\n`);
      onEnd(null, null);
    });
    return proc;
  }

  private refillQueued = false;

  private refillSoon(): void {
    if (this.refillQueued) return;
    this.refillQueued = true;
    const go = () => {
      this.refillQueued = false;
      this.refill();
    };
    const delay = this.opts.refillDelayMs ?? 0;
    if (delay > 0) setTimeout(go, delay).unref();
    else setImmediate(go);
  }

  private refill(size = this.poolSize): void {
    if (this.closed || !this.opts.controlSocket) return;
    try {
      while (this.pool.length < size && this.procs.size < this.maxProcesses) {
        this.pool.push(this.spawnRuntime({ controlSocket: this.opts.controlSocket, pooled: true }));
      }
      for (const { image, procs } of this.imagePools.values()) {
        while (procs.length < this.poolSize && this.procs.size < this.maxProcesses)
          procs.push(this.spawnRuntime({ controlSocket: this.opts.controlSocket, image, pooled: true }));
      }
    } catch (err) {
      // A cgroup that could not be made (fail closed): not in a loop, later.
      this.poolFailures++;
      (this.opts.log ?? console.error)(`could not start a warm-pool runtime: ${(err as Error).message}`);
      if (!this.closed) setTimeout(() => this.refill(), Math.min(30_000, 200 * 2 ** this.poolFailures)).unref();
    }
  }

  /**
   * A start that could use the host-system pool: the pool grows to the size of the burst it is
   * part of (POOL_GROWTH). Counted in starts, not in misses: during a burst each start takes the
   * runtime the one before it had started as a refill, so the pool is rarely found empty.
   */
  private poolDemand(): void {
    this.lastPoolStart = Date.now();
    this.burstStarts++;
    this.poolTarget = Math.max(this.poolTarget, Math.min(this.poolSize * POOL_GROWTH, this.burstStarts));
    if (!this.growTimer) this.growWhenQuiet();
  }

  private growWhenQuiet(): void {
    const wait = this.lastPoolStart + POOL_GROW_QUIET_MS - Date.now();
    this.growTimer = setTimeout(
      () => {
        this.growTimer = undefined;
        if (this.closed) return;
        if (Date.now() - this.lastPoolStart < POOL_GROW_QUIET_MS) return this.growWhenQuiet();
        this.burstStarts = 0; // the burst is over
        if (this.poolTarget <= this.poolSize) return;
        this.refill(this.poolTarget);
        clearTimeout(this.shrinkTimer);
        this.shrinkTimer = setTimeout(() => this.shrinkWhenIdle(), POOL_SHRINK_IDLE_MS);
        this.shrinkTimer.unref();
      },
      Math.max(0, wait),
    );
    this.growTimer.unref();
  }

  /** Back to poolSize once no container has started for POOL_SHRINK_IDLE_MS. */
  private shrinkWhenIdle(): void {
    this.shrinkTimer = undefined;
    if (this.closed) return;
    const idle = Date.now() - this.lastPoolStart;
    if (idle < POOL_SHRINK_IDLE_MS) {
      this.shrinkTimer = setTimeout(() => this.shrinkWhenIdle(), POOL_SHRINK_IDLE_MS - idle);
      this.shrinkTimer.unref();
      return;
    }
    this.poolTarget = this.poolSize;
    // Out of the pool first: their exit is not a pooled runtime's failure.
    for (const p of this.pool.splice(this.poolSize)) retire(p.child);
  }

  /** The warm pool of an image, made the most recent; the least recent beyond MAX_IMAGE_POOLS goes. */
  private imagePool(image: ImageRun): Proc[] {
    let entry = this.imagePools.get(image.key);
    if (entry) this.imagePools.delete(image.key);
    else entry = { image, procs: [] };
    this.imagePools.set(image.key, entry);
    while (this.imagePools.size > MAX_IMAGE_POOLS) {
      const [oldest, e] = this.imagePools.entries().next().value as [string, { procs: Proc[] }];
      this.imagePools.delete(oldest);
      for (const p of e.procs) retire(p.child);
    }
    return entry.procs;
  }

  /** The built image a container runs in, or why it cannot. */
  private resolveImage(key: string): ImageRun | string {
    const from = this.images ?? this.opts.imageRoots;
    if (!from) return "this server has no image store";
    const why = this.images?.unavailable();
    if (why) return why;
    if (this.sandbox.name !== "bubblewrap") return "images need the bubblewrap sandbox, which is not in use here";
    const r = from.resolve(key);
    if (!r)
      return `image layer ${key.slice(0, 12)} is not on this host (pruned or evicted): deploy the app again to rebuild it`;
    return { key, ...r };
  }

  /**
   * A path to hide that appeared after the pool was started, where the sandbox shows the host
   * (a config file under /etc written at first start), is visible in those sandboxes: replace
   * them. One the sandbox does not show anyway (the profile in ~/.skiff.toml, which a first
   * start writes once it listens) leaves them as they are: replacing them made every first
   * start's first containers fresh starts, the pool's two runtimes started and thrown away.
   */
  private dropStalePool(): void {
    const now = this.hide.filter((p) => this.sandbox.hides(p, this.expose) && existsSync(p));
    const stale = this.pool.filter((p) => now.some((h) => !p.hidden.includes(h)));
    for (const p of stale) {
      this.pool.splice(this.pool.indexOf(p), 1);
      retire(p.child);
    }
    if (stale.length > 0) this.refill();
  }

  /**
   * At the process cap, an idle pooled runtime (the least recently used image's first) ends
   * to make way for a container that cannot use it (or one killed already, a stale pooled
   * runtime replaced, is waited for); waits (2 s at most each) until it is gone, so the host
   * never holds more runtime processes than its capacity.
   */
  private async makeRoom(): Promise<void> {
    while (this.procs.size >= this.maxProcesses) {
      const pools = [...[...this.imagePools.values()].map((e) => e.procs), this.pool];
      const pool = pools.find((p) => p.length > 0);
      let going = pool?.shift();
      if (going) killSandbox(going.child);
      else {
        // None idle: one already on its way out (a stale or retired pooled runtime, killed a
        // moment ago) still counts until it has exited.
        going = [...this.procs].find((p) => p.containerId === undefined && !pools.some((q) => q.includes(p)));
        if (!going) return; // only containers: placement keeps those within capacity
      }
      const p = going;
      await new Promise<void>((resolve) => {
        if (p.exited) return resolve();
        const t = setTimeout(resolve, 2000);
        p.child.once("exit", () => {
          clearTimeout(t);
          resolve();
        });
      });
      if (!p.exited) return; // stuck: go on rather than hold the start
    }
  }

  /**
   * The line a runtime reads on stdin: its env, and the bundle where it comes with the container
   * (a remote worker fetched it; a small one from the control plane, to load at once).
   */
  private assignment(spec: ContainerSpec): string {
    const bundle =
      spec.bundle && spec.bundleBlobId
        ? {
            bundle: {
              blobId: spec.bundleBlobId,
              b64: Buffer.from(spec.bundle).toString("base64"),
              ...(spec.preloadBundle ? { preload: true } : {}),
            },
          }
        : {};
    return `${JSON.stringify({ env: this.containerEnv(spec), ...bundle })}\n`;
  }

  private containerEnv(spec: ContainerSpec): Record<string, string> {
    return {
      ...spec.env,
      SKIFF_ENVIRONMENT: spec.environment,
      SKIFF_CONTAINER_ID: spec.containerId,
      SKIFF_CONTAINER_TOKEN: spec.token,
    };
  }

  async start(spec: ContainerSpec, events: ContainerEvents): Promise<ContainerHandle> {
    let image: ImageRun | undefined;
    if (spec.imageKey) {
      const r = this.resolveImage(spec.imageKey);
      if (typeof r === "string") {
        // Reported like a process that could not start: the engine fails the container.
        setImmediate(() => {
          events.onOutput("stderr", `cannot start a container in its image: ${r}\n`);
          events.onExit(null, null);
        });
        return { containerId: spec.containerId, pid: undefined, kill: () => {} };
      }
      image = r;
    }
    // A pooled runtime's sandbox is made before its container is known: none with volumes.
    const poolable =
      spec.controlSocket === this.opts.controlSocket &&
      !spec.blockNetwork &&
      !spec.memoryMiB &&
      !spec.cpu &&
      !spec.mounts?.length &&
      !spec.devices?.length;
    if (poolable && !image && this.pool.length > 0) this.dropStalePool();
    const pool = poolable ? (image ? this.imagePool(image) : this.pool) : undefined;
    let proc = pool?.shift();
    if (poolable && !image) this.poolDemand();
    if (proc) {
      // Its sandbox is already up and its modules loaded: hand it the container.
      proc.events = events;
      proc.containerId = spec.containerId;
      const p = proc;
      void p.ready.then(() => p.child.stdin!.end(this.assignment(spec))).catch(() => {});
      this.poolFailures = 0;
      // After this turn: the assignment goes out first, then its replacement (a cgroup, a
      // sandbox and a process spawned by this thread, a few ms) is started.
      this.refillSoon();
    } else {
      if (image && spec.devices?.length) {
        setImmediate(() => {
          events.onOutput("stderr", "GPU devices are not passed into containers with an image yet\n");
          events.onExit(null, null);
        });
        return { containerId: spec.containerId, pid: undefined, kill: () => {} };
      }
      await this.makeRoom();
      proc = this.spawnRuntime({
        controlSocket: spec.controlSocket,
        blockNetwork: spec.blockNetwork,
        memoryMiB: spec.memoryMiB,
        mounts: spec.mounts,
        image,
        cpu: spec.cpu,
        devices: spec.devices,
      });
      if (image && pool) this.refill();
      proc.events = events;
      proc.containerId = spec.containerId;
      const p = proc;
      void p.ready.then(() => p.child.stdin!.end(this.assignment(spec))).catch(() => {});
    }
    const p = proc;
    try {
      await p.ready;
    } catch (err) {
      p.events?.onOutput("stderr", `could not give the container its network: ${(err as Error).message}\n`);
      killSandbox(p.child);
    }
    return {
      containerId: spec.containerId,
      bundleGiven: spec.bundle !== undefined && spec.bundleBlobId !== undefined,
      // Read when asked: a process the command helper started has its pid once the helper said it.
      get pid() {
        return p.child.pid;
      },
      host: "local",
      kill: () => {
        if (!p.exited) p.child.kill("SIGKILL");
      },
      usage: () => {
        if (p.exited) return undefined;
        const u = processTreeUsage(p.child.pid);
        // Memory as its cgroup counts it where there is one: what it added to the host (its
        // tmpfs included), not the shared pages of Node's binary that every RSS repeats.
        const charged = p.cgroup?.memoryBytes();
        return u && charged !== undefined ? { ...u, memoryBytes: charged } : u;
      },
      // The same memory without the walk of its processes where its cgroup counts it.
      memoryBytes: () => {
        if (p.exited) return undefined;
        return p.cgroup?.memoryBytes() ?? processTreeUsage(p.child.pid)?.memoryBytes;
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.growTimer);
    clearTimeout(this.shrinkTimer);
    // Started now, beside the waits for the processes: neither needs them gone. The spare
    // namespaces were never joined, and the runtime's files are only read (a sandbox killed
    // while it mounts them fails, as it is being killed anyway).
    const early = [this.nat?.close(), this.runtimeDir?.remove()];
    const waits = [...this.procs].map(
      (p) =>
        new Promise<void>((r) => {
          if (p.exited) return r();
          p.child.once("exit", () => r());
          killSandbox(p.child);
        }),
    );
    await Promise.all(waits);
    killOrphans(this.sockets);
    this.sandbox.dispose?.();
    this.images?.close();
    // Independent of each other, and each waits on other processes or the kernel (ip, pasta,
    // cgroups emptying): side by side, a server stop (each `skiff run`'s end) waits for the
    // longest of them, not their sum. The cgroups only once their processes are gone.
    await Promise.all([...early, this.limiter.close()]);
    // Last: the namespaces' removals above run in it, and the processes it started are gone.
    this.helper.close();
  }
}

/** How long a retired pooled runtime has to see its stdin end and leave before it is killed. */
const RETIRE_KILL_MS = 10_000;

/**
 * Ends a pooled runtime that was given no container: it exits when its stdin ends, once it
 * runs, however far bubblewrap had got with the sandbox. Killed while bubblewrap sets up, the
 * sandbox's pid 1 could be left waiting for ever (killSandbox); killed if still there later.
 */
function retire(child: RuntimeChild): void {
  child.stdin?.end();
  const timer = setTimeout(() => killSandbox(child), RETIRE_KILL_MS);
  timer.unref();
  child.once("exit", () => clearTimeout(timer));
}

/**
 * Kills sandbox processes of this provider left behind when it stops: bubblewrap's child,
 * forked just after killSandbox looked for it, outlives its killed parent (pid 1 adopts it)
 * and holds the runtime's stdio, so the server never exits. They bind one of this provider's
 * control sockets, which nothing else does, and by now every sandbox of it has ended.
 */
function killOrphans(sockets: Set<string>): void {
  if (sockets.size === 0) return;
  let entries: string[] = [];
  try {
    entries = readdirSync("/proc");
  } catch {}
  for (const e of entries) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${e}/comm`, "utf8").trim() !== "bwrap") continue;
      const argv = readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0");
      if (argv.some((a, i) => a === "--bind" && sockets.has(argv[i + 1] ?? ""))) process.kill(Number(e), "SIGKILL");
    } catch {}
  }
}

/**
 * Kills a sandbox that may still be setting up: bubblewrap's child (pid 1 of the sandbox)
 * waits for its parent to finish the setup, and killed then, the parent leaves it waiting for
 * ever (no parent-death signal yet), holding the runtime's stdio — a server stopping a moment
 * after starting its warm pool waited on it. The child goes too (and with it, as pid 1,
 * everything in its namespace).
 */
function killSandbox(child: RuntimeChild): void {
  const pid = child.pid;
  const kids = pid === undefined || child.exitCode !== null ? [] : childrenOf(pid);
  child.kill("SIGKILL");
  for (const k of kids) signalPid(k, "SIGKILL");
}

/** GPU names nvidia-smi lists; none where it fails. */
function nvidiaGpus(): string[] {
  try {
    const out = execFileSync("nvidia-smi", ["--query-gpu=name", "--format=csv,noheader"], {
      timeout: 5000,
      stdio: ["ignore", "pipe", "ignore"],
    });
    return out
      .toString()
      .split("\n")
      .map((s) => s.trim())
      .filter(Boolean);
  } catch {
    return [];
  }
}

/** Whether this kernel lists a task's children (CONFIG_PROC_CHILDREN). */
const CHILDREN_FILES = existsSync(`/proc/self/task/${process.pid}/children`);

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? "").split(":").some((d) => d !== "" && existsSync(join(d, cmd)));
}

/**
 * Processes whose parent is `pid`: its main thread's children file where the kernel has one
 * (bubblewrap forks from its main thread), else a scan of /proc — a few hundred reads, ~30 ms
 * of a loaded machine per sandbox, paid for each one a server stops (each `skiff run`'s end).
 */
function childrenOf(pid: number): number[] {
  if (CHILDREN_FILES)
    try {
      return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(" ").filter(Boolean).map(Number);
    } catch {
      return []; // gone
    }
  const out: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync("/proc");
  } catch {}
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      // The ppid is the second field after the command, which may hold spaces: after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(e));
    } catch {}
  }
  return out;
}
