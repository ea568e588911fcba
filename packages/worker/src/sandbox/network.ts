import { execFileSync } from "node:child_process";
import { accessSync, constants, readdirSync, readFileSync, rmSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { readPidFile, signalPid } from "./pid-file.js";
import type { CommandHelper } from "./spawner.js";
import { alive, processTempDir } from "./temp-dirs.js";

const PASTA = ["/usr/bin/pasta", "/usr/sbin/pasta"];
const IP = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"];
/**
 * Namespaces kept ready ahead of containers: pasta takes a few hundred milliseconds to start
 * (a second on a loaded host), longer than a warm-pool runtime has between two cold starts.
 */
const SPARE = 3;
/**
 * Replacement spares and the removal of ended namespaces wait until no container has started
 * for QUIET_MS (a cold start is about that long), or MAX_DEFER_MS at most: made beside a cold
 * start, pasta and ip made it 1.6-1.8x main's on a loaded 2-core machine (bench/cold-start-vs.ts).
 */
const QUIET_MS = 300;
const MAX_DEFER_MS = 3000;
const NSENTER = ["/usr/bin/nsenter", "/bin/nsenter"];

/**
 * Outbound network for a container without the host: the container gets a network namespace of
 * its own (bubblewrap's), and `pasta` (Debian's passt package) gives it NAT to the outside
 * through the host's sockets. Nothing of the host is reachable through it:
 * - the host's loopback is the container's own (pasta's port forwarding is off: -t/-u/-T/-U none),
 * - the gateway address is not mapped to the host (--no-map-gw),
 * - every address of the host is a `prohibit` route inside the namespace (connections to the
 *   host's other interfaces, where a control plane listening on 0.0.0.0 answers, fail at once);
 *   the address pasta copies into the namespace is the container's own.
 * The namespace is named (`ip netns attach`) so pasta can join it; removing the name when the
 * container ends also ends its pasta. Needs root (the server runs containers as nobody then).
 */
export class NatNetwork {
  private seq = 0;
  private constructor(
    /**
     * Runs the NAT scripts and removals without forking the server (spawner.ts). The provider's,
     * which starts containers in it too: the provider ends it, once its containers are gone.
     */
    private readonly helper: CommandHelper,
    private readonly pasta: string,
    private readonly ip: string,
    private readonly nsenter: string | undefined,
  ) {
    // Names of namespaces left by a server that died (the name holds its pid), and their pastas.
    for (const name of listNamed()) {
      const m = /^skiff-(\d+)-/.exec(name);
      if (m && !alive(Number(m[1]))) void this.remove(name);
    }
    for (const pid of strayPastas()) signalPid(pid, "SIGTERM");
  }

  /** pasta where it can work here (root, pasta and ip installed), else why not. */
  static detect(helper: CommandHelper): { nat?: NatNetwork; why?: string } {
    const pasta = PASTA.find(executable);
    const ip = IP.find(executable);
    if (!pasta) return { why: "pasta (Debian package passt) is not installed" };
    if (!ip) return { why: "ip (iproute2) is not installed" };
    if (process.getuid?.() !== 0) return { why: "outbound NAT for containers needs a server running as root" };
    return { nat: new NatNetwork(helper, pasta, ip, NSENTER.find(executable)) };
  }

  /** Namespaces made ahead, NAT and fence in place (at most SPARE, made one at a time). */
  private readonly spares: { name: string; path: string }[] = [];
  private preparing = 0;
  private spareFailed = false;
  private closed = false;

  /**
   * A namespace already connected and fenced, if one is ready (none is made while waiting):
   * a container joins it at once instead of waiting for pasta after it starts. Another is made
   * in the background. Returns the path to join and the function that removes it.
   */
  takeReady():
    | { wrap: (file: string, args: string[]) => { file: string; args: string[] }; remove: () => Promise<void> }
    | undefined {
    const nsenter = this.nsenter;
    if (!nsenter) return undefined;
    const s = this.spares.shift();
    // Its replacement is made once starts pause (afterQuiet). Meanwhile a runtime that finds
    // none ready gets pasta after it starts (attach), which a pooled one does before it is needed.
    this.lastStart = Date.now();
    this.afterQuiet();
    if (!s) return undefined;
    return {
      wrap: (file, args) => ({ file: nsenter, args: [`--net=${s.path}`, "--", file, ...args] }),
      remove: () => this.remove(s.name),
    };
  }

  /**
   * Keeps SPARE namespaces ready or on their way, made side by side (pasta is the slow part).
   * One that fails stops this (no retry loop): containers then attach after they start.
   */
  prepareSpares(): void {
    if (!this.closed) this.helper.start();
    while (this.nsenter && !this.closed && !this.spareFailed && this.spares.length + this.preparing < SPARE) {
      this.preparing++;
      const name = this.nextName();
      void this.connect(name, ["netns", "add", name])
        .then(
          () => {
            if (this.closed) return this.remove(name);
            this.spares.push({ name, path: `/run/netns/${name}` });
          },
          () => {
            this.spareFailed = true;
            return this.remove(name);
          },
        )
        .finally(() => {
          this.preparing--;
          this.prepareSpares();
        });
    }
  }

  /** Removes the namespaces made ahead (the server is closing). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.quietTimer);
    this.quietTimer = undefined;
    void this.flushRemovals();
    await Promise.all(this.spares.splice(0).map((s) => this.remove(s.name)));
  }

  /**
   * Gives the network namespace of process `pid` outbound NAT and fences off the host.
   * Resolves once it is ready; the returned function removes it.
   */
  async attach(pid: number): Promise<() => Promise<void>> {
    const name = this.nextName();
    try {
      await this.connect(name, ["netns", "attach", name, String(pid)]);
    } catch (err) {
      await this.remove(name);
      throw err;
    }
    return () => this.remove(name);
  }

  private nextName(): string {
    const name = `skiff-${process.pid}-${++this.seq}`;
    this.named.add(name);
    if (this.named.size === 1) process.once("exit", this.onExit);
    return name;
  }

  /** Names this process made and has not removed yet (removed at exit, even an abrupt one). */
  private readonly named = new Set<string>();
  /** pasta's pid for each namespace this process connected. */
  private readonly pastaPids = new Map<string, number>();
  /** Where pasta writes its pid files (made on first use). */
  private pidDir: string | undefined;
  private readonly onExit = () => {
    for (const pid of this.pastaPids.values()) signalPid(pid, "SIGTERM");
    if (this.pidDir) rmSync(this.pidDir, { recursive: true, force: true });
    for (const name of this.named)
      try {
        execFileSync(this.ip, ["netns", "del", name], { stdio: "ignore" });
      } catch {}
  };

  /**
   * Names the namespace (`ip <naming…>`), gives it pasta's NAT and a prohibit route to every
   * address of the host: one process from here (a shell running the three), since each process
   * the server forks costs it a few milliseconds of a loaded machine's time.
   */
  private async connect(name: string, naming: string[]): Promise<void> {
    // pasta leaves when its namespace's name is removed, but not always (seen left running
    // after its name was gone): its pid is kept, and it is ended with the namespace.
    // In a directory of this process's, removed at exit: a pasta still starting then writes
    // its pid file into nothing, rather than leave it in /tmp.
    this.pidDir ??= processTempDir("skiff-pasta");
    const pidFile = join(this.pidDir, `${name}.pid`);
    const pasta = [
      this.pasta,
      "--pid",
      pidFile,
      "--runas",
      "0:0",
      "--netns",
      name,
      "--config-net",
      "-t",
      "none",
      "-u",
      "none",
      "-T",
      "none",
      "-U",
      "none",
      "--no-map-gw",
      "--quiet",
    ];
    const fence = hostAddresses().map((addr) => `route add prohibit ${addr}/${addr.includes(":") ? 128 : 32}\n`);
    const script = [
      "set -e",
      `${sh([this.ip, ...naming])}`,
      `${sh(pasta)} </dev/null`,
      ...(fence.length > 0 ? [`${sh([this.ip, "-n", name, "-force", "-batch", "-"])}`] : []),
    ].join("\n");
    try {
      await this.helper.run("/bin/sh", ["-c", script], fence.join(""));
    } finally {
      const pid = readPidFile(pidFile);
      if (pid !== undefined) this.pastaPids.set(name, pid);
      rmSync(pidFile, { force: true });
    }
  }

  /**
   * Ends the namespace's pasta at once; its name goes with others in one `ip -batch` a moment
   * later (one process for several, off a cold start's path). Resolves once it is gone.
   */
  private remove(name: string): Promise<void> {
    const pasta = this.pastaPids.get(name);
    this.pastaPids.delete(name);
    if (pasta !== undefined) signalPid(pasta, "SIGTERM");
    return new Promise((resolve) => {
      this.removals.push({ name, resolve });
      if (this.closed) void this.flushRemovals();
      else this.afterQuiet();
    });
  }

  private readonly removals: { name: string; resolve: () => void }[] = [];
  private lastStart = 0;
  private quietTimer: NodeJS.Timeout | undefined;

  /** Makes spares and removes ended namespaces once containers stop starting (QUIET_MS). */
  private afterQuiet(): void {
    if (this.quietTimer) return;
    const first = Date.now();
    const check = () => {
      const now = Date.now();
      const busyFor = QUIET_MS - (now - this.lastStart);
      if (!this.closed && busyFor > 0 && now - first < MAX_DEFER_MS) {
        this.quietTimer = setTimeout(check, busyFor);
        this.quietTimer.unref();
        return;
      }
      this.quietTimer = undefined;
      void this.flushRemovals();
      this.prepareSpares();
    };
    this.quietTimer = setTimeout(check, QUIET_MS);
    this.quietTimer.unref();
  }

  private async flushRemovals(): Promise<void> {
    const batch = this.removals.splice(0);
    if (batch.length === 0) return;
    try {
      await this.helper.run(this.ip, ["-force", "-batch", "-"], batch.map((r) => `netns del ${r.name}\n`).join(""));
    } catch {}
    for (const r of batch) {
      this.named.delete(r.name);
      r.resolve();
    }
    if (this.named.size === 0) {
      process.off("exit", this.onExit);
      if (this.pidDir) rmSync(this.pidDir, { recursive: true, force: true });
      this.pidDir = undefined;
    }
  }
}

/** Every address of this host but loopback (the container's loopback is its own). */
export function hostAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (!a.internal && !a.address.startsWith("fe80:")) out.push(a.address);
  return out;
}

function listNamed(): string[] {
  try {
    return readdirSync("/run/netns");
  } catch {
    return [];
  }
}

/** pasta processes serving a namespace named by a server that is gone (`--netns skiff-PID-N`). */
function strayPastas(): number[] {
  const out: number[] = [];
  let pids: string[] = [];
  try {
    pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {}
  for (const pid of pids) {
    let argv: string[];
    try {
      // The command name first: reading a process's cmdline reads its memory, ten times the
      // cost of comm, and a server starts beside a few hundred processes (pasta may run as passt).
      if (!/^pas(ta|st)/.test(readFileSync(`/proc/${pid}/comm`, "utf8"))) continue;
      argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      continue;
    }
    if (!argv[0]?.endsWith("pasta")) continue;
    const m = /^skiff-(\d+)-\d+$/.exec(argv[argv.indexOf("--netns") + 1] ?? "");
    if (m && !alive(Number(m[1]))) out.push(Number(pid));
  }
  return out;
}

/** A word for sh -c, quoted. */
function sh(argv: string[]): string {
  return argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
}

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
