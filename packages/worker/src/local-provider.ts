import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ContainerEvents, ContainerHandle, ContainerSpec, WorkerProvider } from "@skiff/protocol";
import { LocalImageBuilder } from "./images/builder.js";
import { IMAGE_PATH } from "./images/run-step.js";
import { processTreeUsage } from "./proc-usage.js";
import { detectSandbox, type SandboxChoice } from "./sandbox/detect.js";
import { asUser, type ContainerUser, containerIdentity } from "./sandbox/identity.js";
import { IMAGE_NODE_MODULES, IMAGE_SOCKET, imageRootCommand, runtimeBinds } from "./sandbox/image-root.js";
import {
  type ContainerCgroup,
  detectLimiter,
  type Limiter,
  type LimitsChoice,
  limitsFor,
  wrapCommand,
} from "./sandbox/limits.js";
import { NatNetwork } from "./sandbox/network.js";
import { RUNTIME_ENTRY_INSIDE, RUNTIME_INSIDE, RuntimeDir } from "./sandbox/runtime-dir.js";
import type { Sandbox } from "./sandbox/sandbox.js";

export interface LocalProviderOptions {
  /** The control plane's unix socket (lets the provider pre-start containers). */
  controlSocket?: string;
  /** @defaultValue "auto" (bubblewrap if it works here, else plain processes with a warning) */
  sandbox?: SandboxChoice;
  /** Host paths containers must not see: the server's data directory, the config file. */
  hide?: string[];
  /** GPU types on this host; detected with nvidia-smi when not given. */
  gpuTypes?: string[];
  /** Runtime processes kept started and idle, so a scale-up skips process start. @defaultValue 2 */
  warmPool?: number;
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

interface ImageRun {
  key: string;
  root: string;
  env: Record<string, string>;
  workdir: string | undefined;
}

const RUNTIME_ENTRY = fileURLToPath(new URL("./runtime/main.js", import.meta.url));

/** System directories the sandbox shows anyway (see bubblewrap.ts). */
const SHOWN = ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc"];

/** Node's install prefix (…/bin/node -> …) when the sandbox does not show it already. */
function nodePrefix(): string[] {
  const node = realpathSync(process.execPath);
  return SHOWN.some((r) => node.startsWith(`${r}/`)) ? [] : [dirname(dirname(node))];
}

interface Proc {
  child: ChildProcess;
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
  private readonly hide: string[];
  private readonly expose: string[];
  private readonly poolSize: number;
  /** What the runtime loads, in a read-only directory of its own (sandboxed containers only). */
  private readonly runtimeDir: RuntimeDir | undefined;
  /** The host user containers run as (a root server only). */
  private readonly user: ContainerUser | undefined;
  /** Outbound NAT in a network namespace of the container's own (network.ts). */
  private readonly nat: NatNetwork | undefined;
  private gpus: string[] | undefined;
  private closed = false;
  private poolFailures = 0;
  private seq = 0;

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
    if (this.sandbox.name === "bubblewrap") {
      this.runtimeDir = new RuntimeDir();
      const id = containerIdentity(opts.containerUser);
      if (id.warning) log(`warning: ${id.warning}`);
      this.user = id.user;
      const { nat, why } = NatNetwork.detect();
      this.nat = nat;
      nat?.prepareSpares();
      if (why) log(`warning: containers share the host's network, its loopback services included: ${why}`);
    }
    // Node's own install folder when it is not under /usr; the runtime comes from runtimeDir.
    this.expose = this.sandbox.name === "bubblewrap" ? nodePrefix() : [];
    this.gpus = opts.gpuTypes;
    this.poolSize = opts.controlSocket ? (opts.warmPool ?? 2) : 0;
    if (opts.images) this.images = new LocalImageBuilder({ ...opts.images, log });
    this.refill();
  }

  gpuTypes(): string[] {
    if (!this.gpus) {
      try {
        const out = execFileSync("nvidia-smi", ["--query-gpu=name", "--format=csv,noheader"], {
          timeout: 5000,
          stdio: ["ignore", "pipe", "ignore"],
        });
        this.gpus = out
          .toString()
          .split("\n")
          .map((s) => s.trim())
          .filter(Boolean);
      } catch {
        this.gpus = [];
      }
    }
    return this.gpus;
  }

  /**
   * Starts a runtime that waits for its container on stdin. Credentials and secrets travel
   * that way, never in the process environment (readable in /proc/<pid>/environ).
   */
  private spawnRuntime(
    controlSocket: string,
    blockNetwork: boolean,
    memoryMiB: number | undefined,
    mounts: ContainerSpec["mounts"] = [],
    image?: ImageRun,
    cpu?: number,
    devices: string[] = [],
  ): Proc {
    if (mounts.length > 0 && this.sandbox.name === "none")
      throw new Error("volumes need the bubblewrap sandbox (this server runs containers as plain processes)");
    const hostWorkdir = this.sandbox.name === "none" ? mkdtempSync(join(tmpdir(), "skiff-ct-")) : "";
    const workdir = image ? "/tmp" : this.sandbox.workdir(hostWorkdir);
    const baseEnv: Record<string, string> = {
      PATH: image ? IMAGE_PATH : (process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin"),
      HOME: workdir,
      LANG: process.env.LANG ?? "C.UTF-8",
      ...(image ? image.env : {}),
      SKIFF_ASSIGN_VIA_STDIN: "1",
      SKIFF_CONTROL_SOCKET: image ? IMAGE_SOCKET : this.sandbox.socketPath(controlSocket),
      SKIFF_WORKDIR: workdir,
      ...(image ? { SKIFF_NODE_MODULES: IMAGE_NODE_MODULES } : {}),
    };
    const nodeArgs = memoryMiB ? [`--max-old-space-size=${memoryMiB}`] : [];
    const entry = this.runtimeDir ? RUNTIME_ENTRY_INSIDE : RUNTIME_ENTRY;
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
    if (image) this.imageRuntime ??= runtimeBinds(RUNTIME_ENTRY);
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
    let cgroup: ContainerCgroup | undefined;
    try {
      cgroup = this.limiter.create(`ct-${++this.seq}`, limits);
    } catch (err) {
      (this.opts.log ?? console.error)(`could not create a cgroup for a container: ${(err as Error).message}`);
    }
    const inNetns = joined ? joined.wrap(sandboxed.file, sandboxed.args) : sandboxed;
    const { file, args } = wrapCommand(inNetns.file, inNetns.args, cgroup);
    const child = spawn(file, args, {
      env: baseEnv,
      cwd: hostWorkdir || "/",
      stdio: nat ? ["pipe", "pipe", "pipe", "pipe"] : ["pipe", "pipe", "pipe"],
    });
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

  private refill(): void {
    if (this.closed || !this.opts.controlSocket) return;
    while (this.pool.length < this.poolSize) {
      this.pool.push(this.spawnRuntime(this.opts.controlSocket, false, undefined));
    }
    for (const { image, procs } of this.imagePools.values()) {
      while (procs.length < this.poolSize)
        procs.push(this.spawnRuntime(this.opts.controlSocket, false, undefined, [], image));
    }
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
      for (const p of e.procs) killSandbox(p.child);
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
   * A path to hide that appeared after the pool was started (the config file written at first
   * start) is visible in those sandboxes: replace them.
   */
  private dropStalePool(): void {
    const now = this.hide.filter((p) => existsSync(p));
    const stale = this.pool.filter((p) => now.some((h) => !p.hidden.includes(h)));
    for (const p of stale) {
      this.pool.splice(this.pool.indexOf(p), 1);
      killSandbox(p.child);
    }
    if (stale.length > 0) this.refill();
  }

  /** The line a runtime reads on stdin: its env, and the bundle a remote worker fetched. */
  private assignment(spec: ContainerSpec): string {
    const bundle =
      spec.bundle && spec.bundleBlobId
        ? { bundle: { blobId: spec.bundleBlobId, b64: Buffer.from(spec.bundle).toString("base64") } }
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
    if (proc) {
      // Its sandbox is already up and its modules loaded: hand it the container.
      proc.events = events;
      proc.containerId = spec.containerId;
      const p = proc;
      void p.ready.then(() => p.child.stdin!.end(this.assignment(spec))).catch(() => {});
      this.poolFailures = 0;
      this.refill();
    } else {
      if (image && spec.devices?.length) {
        setImmediate(() => {
          events.onOutput("stderr", "GPU devices are not passed into containers with an image yet\n");
          events.onExit(null, null);
        });
        return { containerId: spec.containerId, pid: undefined, kill: () => {} };
      }
      proc = this.spawnRuntime(
        spec.controlSocket,
        spec.blockNetwork,
        spec.memoryMiB,
        spec.mounts,
        image,
        spec.cpu,
        spec.devices,
      );
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
      pid: p.child.pid,
      host: "local",
      kill: () => {
        if (!p.exited) p.child.kill("SIGKILL");
      },
      usage: () => (p.exited ? undefined : processTreeUsage(p.child.pid)),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    const waits = [...this.procs].map(
      (p) =>
        new Promise<void>((r) => {
          if (p.exited) return r();
          p.child.once("exit", () => r());
          killSandbox(p.child);
        }),
    );
    await Promise.all(waits);
    this.sandbox.dispose?.();
    await this.nat?.close();
    this.images?.close();
    await this.limiter.close();
    this.runtimeDir?.remove();
  }
}

/**
 * Kills a sandbox that may still be setting up: bubblewrap's child (pid 1 of the sandbox)
 * waits for its parent to finish the setup, and killed then, the parent leaves it waiting for
 * ever (no parent-death signal yet), holding the runtime's stdio — a server stopping a moment
 * after starting its warm pool waited on it. The child goes too (and with it, as pid 1,
 * everything in its namespace).
 */
function killSandbox(child: ChildProcess): void {
  const pid = child.pid;
  const kids = pid === undefined || child.exitCode !== null ? [] : childrenOf(pid);
  child.kill("SIGKILL");
  for (const k of kids)
    try {
      process.kill(k, "SIGKILL");
    } catch {}
}

/** Processes whose parent is `pid` (from /proc; /proc/PID/task/…/children is not always there). */
function childrenOf(pid: number): number[] {
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

/** The pid of bubblewrap's child (in the container's namespaces), from its --info-fd JSON. */
function sandboxChildPid(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    const info = child.stdio[3] as import("node:stream").Readable;
    let text = "";
    info.setEncoding("utf8");
    info.on("data", (d: string) => {
      text += d;
      const m = /"child-pid":\s*(\d+)/.exec(text);
      if (m) {
        info.destroy();
        resolve(Number(m[1]));
      }
    });
    info.on("error", () => {});
    info.on("close", () => reject(new Error("the sandbox exited before it started")));
  });
}
