/**
 * Resource limits for container processes: a cgroup per container (v2 where the memory and
 * pids controllers are delegated to us, else v1 where the memory and pids hierarchies are
 * writable), and everywhere `oom_score_adj` 1000 so that the kernel's OOM killer picks a
 * container before the control plane. Detected once per provider; what it found is described
 * in one line the server logs at start.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { totalmem } from "node:os";
import { join } from "node:path";
import { signalPid } from "./pid-file.js";

export type LimitsChoice = "auto" | "none";

/** What one container gets. */
export interface ContainerLimits {
  /** Hard cap on the container's memory (all its processes, page cache and tmpfs included). */
  memoryBytes: number;
  /** Most processes and threads at once. */
  pids: number;
  /** CPU time per wall-clock time, in cores (a CFS quota), where the cpu controller is ours. */
  cpu?: number;
}

/** The CFS period the quota is a share of (the kernel's default, 100 ms). */
const CPU_PERIOD_US = 100_000;
const cpuQuota = (cores: number) => Math.max(1000, Math.round(cores * CPU_PERIOD_US));

/** Default process/thread cap: Node uses about a dozen threads, worker threads add more. */
export const DEFAULT_PIDS = 512;
/** Memory above `memoryMiB` (the V8 heap cap) allowed for Node itself, buffers and /tmp. */
export const MEMORY_SLACK_MIB = 256;

/** The cap for a container with or without `memoryMiB`: by default half of the host's memory. */
export function limitsFor(memoryMiB: number | undefined, cpu?: number): ContainerLimits {
  const memoryBytes = memoryMiB
    ? (memoryMiB + MEMORY_SLACK_MIB) * 1024 * 1024
    : Math.max(512 * 1024 * 1024, Math.floor(totalmem() / 2));
  return { memoryBytes, pids: DEFAULT_PIDS, ...(cpu ? { cpu } : {}) };
}

/** One container's cgroup(s): the files its wrapper writes its pid into, and cleanup. */
export interface ContainerCgroup {
  /** `cgroup.procs` files the process joins before it execs the sandbox. */
  procsFiles: string[];
  /** Whether the kernel's OOM killer fired in this cgroup (the container hit its memory cap). */
  oomKilled(): boolean;
  /** Memory charged to it now (its processes, page cache and tmpfs), or undefined if unreadable. */
  memoryBytes(): number | undefined;
  /** Kills whatever is left in it and removes it (retrying while killed processes leave). */
  remove(): Promise<void>;
}

export interface Limiter {
  readonly kind: "cgroup-v2" | "cgroup-v1" | "none";
  /** One line for the server log: what is enforced, or why not. */
  readonly description: string;
  create(name: string, limits: ContainerLimits): ContainerCgroup | undefined;
  /** Removes the provider's own cgroups, the containers' included. */
  close(): Promise<void>;
}

function ownPaths(): Map<string, string> {
  // "hierarchy-id:controllers:path" per line; v2 is "0::path".
  const m = new Map<string, string>();
  for (const line of readFileSync("/proc/self/cgroup", "utf8").split("\n")) {
    const [, ctrls, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (path === undefined) continue;
    if (ctrls === "") m.set("", path);
    for (const c of (ctrls ?? "").split(",")) if (c) m.set(c, path);
  }
  return m;
}

function killAll(dir: string): void {
  for (let round = 0; round < 20; round++) {
    let pids: number[];
    try {
      pids = readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
    } catch {
      return;
    }
    if (pids.length === 0) return;
    for (const p of pids) signalPid(p, "SIGKILL");
  }
}

function rmdirQuiet(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT";
  }
}

/** Killed processes take a moment to leave their cgroup: retries the removal for a few seconds. */
function removeSoon(dirs: string[], tries = 50): Promise<void> {
  return new Promise((resolve) => {
    // Killed processes leave within milliseconds: retry soon first, then every 100 ms.
    const attempt = (left: number, delay: number) => {
      const rest = dirs.filter((d) => {
        killAll(d);
        return !rmdirQuiet(d);
      });
      if (rest.length === 0 || left <= 0) return resolve();
      dirs = rest;
      setTimeout(() => attempt(left - 1, Math.min(100, delay * 2)), delay).unref();
    };
    attempt(tries, 5);
  });
}

/** The child cgroups of a parent. */
function children(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => join(dir, e.name));
  } catch {
    return [];
  }
}

/**
 * Leftover per-server parents of servers that are no longer running (after a kill -9). One
 * named with this server's own pid is a leftover too (it is swept before this server makes
 * its own): pids are reused (pid_max may be 32768), and a parent kept with its old `ct-N`
 * children made this server's containers fail to get a cgroup of their own (EEXIST), so
 * they ran with no pids or memory limit.
 */
function sweepStale(parent: string): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const n of names) {
    const m = /^skiff-(\d+)$/.exec(n);
    if (!m) continue;
    if (Number(m[1]) !== process.pid) {
      try {
        process.kill(Number(m[1]), 0);
        continue; // that server is alive
      } catch {}
    }
    const dir = join(parent, n);
    for (const c of children(dir)) {
      killAll(c);
      rmdirQuiet(c);
    }
    rmdirQuiet(dir);
  }
}

/**
 * Makes a container's cgroup. One of that name already there is a leftover (names are not
 * reused within a server): what runs in it is killed and it is made anew, so the container
 * never shares a cgroup, or its limit, with what an earlier process left.
 */
function mkdirFresh(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    // Killed processes take a moment to leave: retried for up to about 200 ms (this runs on a
    // container's start path, which fails rather than run without its limits).
    for (let i = 0; ; i++) {
      killAll(dir);
      try {
        rmdirSync(dir);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EBUSY" || i >= 40) throw e;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      }
    }
    mkdirSync(dir);
  }
}

const oomCount = (file: string): number => {
  try {
    return Number(/^oom_kill (\d+)/m.exec(readFileSync(file, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
};

function readNumber(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, "utf8").trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

class V1Limiter implements Limiter {
  readonly kind = "cgroup-v1" as const;
  readonly description: string;
  constructor(
    private readonly memParent: string,
    private readonly pidsParent: string,
    /** The cpu hierarchy's parent, where it is writable (else `cpu` is not enforced). */
    private readonly cpuParent: string | undefined,
  ) {
    this.description =
      `cgroup v1 (memory under ${memParent}, pids under ${pidsParent}, ` +
      (cpuParent ? `cpu under ${cpuParent})` : "cpu not enforced: its hierarchy is not writable)");
  }
  create(name: string, l: ContainerLimits): ContainerCgroup {
    const mem = join(this.memParent, name);
    const pids = join(this.pidsParent, name);
    mkdirFresh(mem);
    mkdirFresh(pids);
    const cpu = l.cpu && this.cpuParent ? join(this.cpuParent, name) : undefined;
    if (cpu) {
      mkdirFresh(cpu);
      writeFileSync(join(cpu, "cpu.cfs_period_us"), String(CPU_PERIOD_US));
      writeFileSync(join(cpu, "cpu.cfs_quota_us"), String(cpuQuota(l.cpu!)));
    }
    writeFileSync(join(mem, "memory.limit_in_bytes"), String(l.memoryBytes));
    try {
      // Swap counts too where swap accounting is on.
      writeFileSync(join(mem, "memory.memsw.limit_in_bytes"), String(l.memoryBytes));
    } catch {}
    writeFileSync(join(pids, "pids.max"), String(l.pids));
    return {
      procsFiles: [join(mem, "cgroup.procs"), join(pids, "cgroup.procs"), ...(cpu ? [join(cpu, "cgroup.procs")] : [])],
      oomKilled: () => oomCount(join(mem, "memory.oom_control")) > 0,
      memoryBytes: () => readNumber(join(mem, "memory.usage_in_bytes")),
      remove: () => removeSoon([pids, mem, ...(cpu ? [cpu] : [])]),
    };
  }
  async close(): Promise<void> {
    const cpu = this.cpuParent ? [this.cpuParent] : [];
    await removeSoon([...children(this.pidsParent), ...children(this.memParent), ...cpu.flatMap(children)], 20);
    await removeSoon([this.memParent, this.pidsParent, ...cpu], 5);
  }
}

class V2Limiter implements Limiter {
  readonly kind = "cgroup-v2" as const;
  readonly description: string;
  constructor(
    private readonly parent: string,
    private readonly cpu: boolean,
  ) {
    this.description = `cgroup v2 (memory, pids${cpu ? ", cpu" : ""} under ${parent})`;
  }
  create(name: string, l: ContainerLimits): ContainerCgroup {
    const dir = join(this.parent, name);
    mkdirFresh(dir);
    writeFileSync(join(dir, "memory.max"), String(l.memoryBytes));
    try {
      writeFileSync(join(dir, "memory.swap.max"), "0");
    } catch {}
    try {
      writeFileSync(join(dir, "memory.oom.group"), "1");
    } catch {}
    writeFileSync(join(dir, "pids.max"), String(l.pids));
    if (l.cpu && this.cpu) writeFileSync(join(dir, "cpu.max"), `${cpuQuota(l.cpu)} ${CPU_PERIOD_US}`);
    return {
      procsFiles: [join(dir, "cgroup.procs")],
      oomKilled: () => oomCount(join(dir, "memory.events")) > 0,
      memoryBytes: () => readNumber(join(dir, "memory.current")),
      remove: () => {
        try {
          writeFileSync(join(dir, "cgroup.kill"), "1");
        } catch {}
        return removeSoon([dir]);
      },
    };
  }
  async close(): Promise<void> {
    await removeSoon(children(this.parent), 20);
    await removeSoon([this.parent], 5);
  }
}

class NoLimiter implements Limiter {
  readonly kind = "none" as const;
  constructor(readonly description: string) {}
  create(): undefined {
    return undefined;
  }
  async close(): Promise<void> {}
}

/** Proves a parent works: a child with limits that can be made and removed. */
function probe(l: Limiter): void {
  const c = l.create("probe", { memoryBytes: 64 * 1024 * 1024, pids: 16 });
  void c?.remove();
}

function tryV2(root: string, own: string): Limiter | string {
  const here = join(root, own);
  const has = (dir: string, file: string) => {
    try {
      return readFileSync(join(dir, file), "utf8").split(/\s+/);
    } catch {
      return [];
    }
  };
  if (!["memory", "pids"].every((c) => has(here, "cgroup.controllers").includes(c)))
    return "cgroup v2 without the memory and pids controllers here";
  try {
    const sub = has(here, "cgroup.subtree_control");
    if (!sub.includes("memory") || !sub.includes("pids")) {
      // A cgroup that holds processes (other than the root) cannot enable controllers for
      // children. Where the server is alone in its cgroup (a systemd service with
      // Delegate=yes), it moves itself into a leaf first; beside other processes it gives up.
      const procs = has(here, "cgroup.procs").filter(Boolean);
      if (own !== "/" && procs.length > 0) {
        if (procs.some((p) => p !== String(process.pid)))
          return `cgroup v2 at ${here} holds other processes, so it cannot delegate controllers to the server`;
        const leaf = join(here, "skiff-server");
        mkdirSync(leaf, { recursive: true });
        writeFileSync(join(leaf, "cgroup.procs"), String(process.pid));
      }
      writeFileSync(join(here, "cgroup.subtree_control"), "+memory +pids");
    }
    sweepStale(here);
    const parent = join(here, `skiff-${process.pid}`);
    mkdirSync(parent, { recursive: true });
    writeFileSync(join(parent, "cgroup.subtree_control"), "+memory +pids");
    // The cpu controller where it is delegated too (`cpu` then holds); without it, it is not.
    let cpu = false;
    try {
      if (!has(here, "cgroup.subtree_control").includes("cpu"))
        writeFileSync(join(here, "cgroup.subtree_control"), "+cpu");
      writeFileSync(join(parent, "cgroup.subtree_control"), "+cpu");
      cpu = true;
    } catch {}
    const l = new V2Limiter(parent, cpu);
    probe(l);
    return l;
  } catch (err) {
    return `cgroup v2 at ${here} is not writable or not delegated (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
}

/** The cpu hierarchy's parent for this server's containers, if it is there and writable. */
function v1CpuParent(root: string, own: string | undefined): string | undefined {
  if (own === undefined) return undefined;
  const here = [join(root, "cpu"), join(root, "cpu,cpuacct")].find((d) => existsSync(join(d, "cpu.cfs_quota_us")));
  if (!here) return undefined;
  try {
    sweepStale(join(here, own));
    const parent = join(here, own, `skiff-${process.pid}`);
    mkdirSync(parent, { recursive: true });
    return parent;
  } catch {
    return undefined;
  }
}

function tryV1(root: string, own: Map<string, string>): Limiter | string {
  const mem = own.get("memory");
  const pids = own.get("pids");
  if (mem === undefined || pids === undefined || !existsSync(join(root, "memory")) || !existsSync(join(root, "pids")))
    return "no cgroup v1 memory and pids hierarchies";
  const memHere = join(root, "memory", mem);
  const pidsHere = join(root, "pids", pids);
  try {
    sweepStale(memHere);
    sweepStale(pidsHere);
    const memParent = join(memHere, `skiff-${process.pid}`);
    const pidsParent = join(pidsHere, `skiff-${process.pid}`);
    mkdirSync(memParent, { recursive: true });
    mkdirSync(pidsParent, { recursive: true });
    const l = new V1Limiter(memParent, pidsParent, v1CpuParent(root, own.get("cpu")));
    try {
      probe(l);
    } catch (err) {
      void l.close();
      throw err;
    }
    return l;
  } catch (err) {
    return `cgroup v1 memory/pids are not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
}

/**
 * Finds what this host lets us enforce. `root` is where cgroup file systems are mounted
 * (tests point it elsewhere).
 */
export function detectLimiter(choice: LimitsChoice, root = "/sys/fs/cgroup"): Limiter {
  if (choice === "none") return new NoLimiter("turned off (--limits none)");
  if (process.platform !== "linux") return new NoLimiter("cgroups exist only on Linux");
  let own: Map<string, string>;
  try {
    own = ownPaths();
  } catch {
    return new NoLimiter("/proc/self/cgroup is not readable");
  }
  const reasons: string[] = [];
  if (existsSync(join(root, "cgroup.controllers")) && own.has("")) {
    const r = tryV2(root, own.get("")!);
    if (typeof r !== "string") return r;
    reasons.push(r);
  }
  const r = tryV1(root, own);
  if (typeof r !== "string") return r;
  reasons.push(r);
  return new NoLimiter(reasons.join("; "));
}

/**
 * The command that joins `cg` (when given), makes this process the OOM killer's first choice,
 * then execs `file args`. The pid is written before the sandbox starts, so every process the
 * container ever forks is inside the cgroup.
 */
export function wrapCommand(
  file: string,
  args: string[],
  cg: ContainerCgroup | undefined,
): { file: string; args: string[] } {
  const joins = (cg?.procsFiles ?? []).map((_, i) => `echo $$ > "$${i + 1}" || exit 125; `).join("");
  const n = cg?.procsFiles.length ?? 0;
  const script = `${joins}{ echo 1000 > /proc/self/oom_score_adj; } 2>/dev/null; shift ${n}; exec "$@"`;
  return { file: "/bin/sh", args: ["-c", script, "skiff-container", ...(cg?.procsFiles ?? []), file, ...args] };
}
