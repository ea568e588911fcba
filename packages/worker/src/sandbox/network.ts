import { execFileSync } from "node:child_process";
import { accessSync, constants, readdirSync, readFileSync, rmSync } from "node:fs";
import { BlockList } from "node:net";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { readPidFile, signalPid } from "./pid-file.js";
import type { CommandHelper } from "./spawner.js";
import { alive, processTempDir } from "./temp-dirs.js";

const PASTA = ["/usr/bin/pasta", "/usr/sbin/pasta"];
const SLIRP = ["/usr/bin/slirp4netns", "/usr/sbin/slirp4netns", "/usr/local/bin/slirp4netns"];
const IP = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"];
/**
 * Namespaces kept ready ahead of containers: the NAT takes tens to hundreds of milliseconds to start
 * (a second on a loaded host), longer than a warm-pool runtime has between two cold starts.
 */
const SPARE = 3;
/**
 * Replacement spares and the removal of ended namespaces wait until no container has started
 * for QUIET_MS (a cold start is about that long), or MAX_DEFER_MS at most: made beside a cold
 * start, the NAT and ip made it 1.6-1.8x main's on a loaded 2-core machine (bench/cold-start-vs.ts).
 */
const QUIET_MS = 300;
const MAX_DEFER_MS = 3000;
const NSENTER = ["/usr/bin/nsenter", "/bin/nsenter"];
const UNSHARE = ["/usr/bin/unshare", "/bin/unshare"];

/** The user-space NAT a namespace gets: which program, and where it is. */
export type NatBackend = { kind: "slirp4netns" | "pasta"; path: string; unshare?: string };

/**
 * Outbound network for a container without the host: the container gets a network namespace of
 * its own (bubblewrap's), and a user-space NAT gives it the outside through the host's sockets:
 * `slirp4netns` where it is installed, else `pasta` (Debian's passt). slirp4netns is the default
 * because a container start pays for it: ~44 ms of machine CPU per namespace against pasta's
 * ~128 (pasta's start is the memset of 30 MB of static buffers; bench/RESULTS.md, 2026-12-07
 * 20:30), and 3.4 MB resident against 30. `SKIFF_NAT=pasta|slirp4netns` picks one.
 * Nothing of the host is reachable through either:
 * - the host's loopback is the container's own (slirp4netns `--disable-host-loopback`; pasta's
 *   port forwarding is off: -t/-u/-T/-U none),
 * - the gateway address is not mapped to the host's loopback (the same slirp4netns flag; pasta
 *   `--no-map-gw`),
 * - every address of the host is a `prohibit` route inside the namespace (connections to the
 *   host's other interfaces, where a control plane listening on 0.0.0.0 answers, fail at once).
 * slirp4netns also runs in a sandbox of its own (`--enable-sandbox`: an empty root, no
 * capabilities; `--enable-seccomp`). Its network is a private /24 (10.0.2.0/24 unless the host
 * has an address there) with IPv6 through NAT66 (fd00::/64); pasta copies the host's addresses.
 * The namespace is named (`ip netns attach`) so the NAT can join it; removing it ends its NAT
 * process. Needs root (the server runs containers as nobody then).
 */
export class NatNetwork {
  private seq = 0;
  private constructor(
    /**
     * Runs the NAT scripts and removals without forking the server (spawner.ts). The provider's,
     * which starts containers in it too: the provider ends it, once its containers are gone.
     */
    private readonly helper: CommandHelper,
    readonly backend: NatBackend,
    private readonly ip: string,
    private readonly nsenter: string | undefined,
  ) {
    // Names of namespaces left by a server that died (the name holds its pid), and their NAT processes.
    for (const name of listNamed()) {
      const m = /^skiff-(\d+)-/.exec(name);
      if (m && !alive(Number(m[1]))) void this.remove(name);
    }
    for (const pid of strayNats()) signalPid(pid, "SIGTERM");
  }

  /**
   * A NAT where one can work here (root, slirp4netns or pasta, and ip installed), else why not.
   * `choice` (SKIFF_NAT) names the one to use; unset, slirp4netns is preferred.
   */
  static detect(
    helper: CommandHelper,
    choice: string | undefined = process.env.SKIFF_NAT,
  ): { nat?: NatNetwork; why?: string } {
    if (choice !== undefined && choice !== "" && choice !== "slirp4netns" && choice !== "pasta")
      return { why: `SKIFF_NAT=${choice} is not a NAT Skiff knows (slirp4netns or pasta)` };
    const slirp = choice === "pasta" ? undefined : SLIRP.find(executable);
    const pasta = choice === "slirp4netns" ? undefined : PASTA.find(executable);
    const unshare = UNSHARE.find(executable);
    const backend: NatBackend | undefined = slirp
      ? { kind: "slirp4netns", path: slirp, ...(unshare ? { unshare } : {}) }
      : pasta
        ? { kind: "pasta", path: pasta }
        : undefined;
    const ip = IP.find(executable);
    if (!backend)
      return {
        why:
          choice === "pasta"
            ? "pasta (Debian package passt) is not installed (SKIFF_NAT=pasta)"
            : choice === "slirp4netns"
              ? "slirp4netns is not installed (SKIFF_NAT=slirp4netns)"
              : "neither slirp4netns nor pasta (Debian package passt) is installed",
      };
    if (!ip) return { why: "ip (iproute2) is not installed" };
    if (process.getuid?.() !== 0) return { why: "outbound NAT for containers needs a server running as root" };
    return { nat: new NatNetwork(helper, backend, ip, NSENTER.find(executable)) };
  }

  /** Namespaces made ahead, NAT and fence in place (at most SPARE, made one at a time). */
  private readonly spares: { name: string; path: string }[] = [];
  private preparing = 0;
  private spareFailed = false;
  private closed = false;

  /**
   * A namespace already connected and fenced, if one is ready (none is made while waiting):
   * a container joins it at once instead of waiting for the NAT after it starts. Another is made
   * in the background. Returns the path to join and the function that removes it.
   */
  takeReady():
    | { wrap: (file: string, args: string[]) => { file: string; args: string[] }; remove: () => Promise<void> }
    | undefined {
    const nsenter = this.nsenter;
    if (!nsenter) return undefined;
    const s = this.spares.shift();
    // Its replacement is made once starts pause (afterQuiet). Meanwhile a runtime that finds
    // none ready gets its NAT after it starts (attach), which a pooled one does before it is needed.
    this.lastStart = Date.now();
    this.afterQuiet();
    if (!s) return undefined;
    return {
      wrap: (file, args) => ({ file: nsenter, args: [`--net=${s.path}`, "--", file, ...args] }),
      remove: () => this.remove(s.name),
    };
  }

  /**
   * Keeps SPARE namespaces ready or on their way, made side by side (the NAT is the slow part).
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
  /** The NAT process's pid for each namespace this process connected. */
  private readonly natPids = new Map<string, number>();
  /** Where the NAT processes' pid files (and slirp4netns's errors) go (made on first use). */
  private pidDir: string | undefined;
  private readonly onExit = () => {
    for (const pid of this.natPids.values()) signalPid(pid, "SIGTERM");
    if (this.pidDir) rmSync(this.pidDir, { recursive: true, force: true });
    for (const name of this.named)
      try {
        execFileSync(this.ip, ["netns", "del", name], { stdio: "ignore" });
      } catch {}
  };
  /** slirp4netns's private network, chosen once: one that no address of the host is in. */
  private slirpNet: { cidr: string; ipv6: boolean } | undefined;

  /**
   * Names the namespace (`ip <naming…>`), gives it NAT and a prohibit route to every address of
   * the host: one process from here (a shell running them), since each process the server forks
   * costs it a few milliseconds of a loaded machine's time.
   */
  private async connect(name: string, naming: string[]): Promise<void> {
    // The NAT process is not always gone once its namespace's name is removed (pasta seen left
    // running after its name was gone; slirp4netns holds the tap): its pid is kept, and it is
    // ended with the namespace. In a directory of this process's, removed at exit: a NAT still
    // starting then writes its pid file into nothing, rather than leave it in /tmp.
    this.pidDir ??= processTempDir("skiff-nat");
    const pidFile = join(this.pidDir, `${name}.pid`);
    const fence = hostAddresses().map((addr) => `route add prohibit ${addr}/${addr.includes(":") ? 128 : 32}\n`);
    let lines: string[];
    let batch = fence;
    if (this.backend.kind === "pasta") {
      const pasta = [
        this.backend.path,
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
      lines = [`${sh(pasta)} </dev/null`];
    } else {
      this.slirpNet ??= slirpNetwork();
      const errFile = join(this.pidDir, `${name}.err`);
      // slirp4netns stays in the foreground: started in the background, its pid kept, and
      // waited for until it writes "1" on its ready fd (the substitution's pipe; it closes the
      // fd then). Its --enable-sandbox unmounts in a mount namespace of its own, and from a
      // shared one that reached /run/netns here (the namespace's name was gone): `unshare`
      // gives it a private one first (without unshare, no sandbox; seccomp still).
      const { unshare } = this.backend;
      const slirp = [
        ...(unshare ? [unshare, "--mount", "--propagation", "private"] : []),
        this.backend.path,
        "--configure",
        "--mtu=65520",
        "--disable-host-loopback",
        // No DNS forwarder at 10.0.2.3: it would reach the host's resolver, a loopback one
        // included. Containers use the host's resolv.conf servers through the NAT, as with pasta.
        "--disable-dns",
        ...(unshare ? ["--enable-sandbox"] : []),
        "--enable-seccomp",
        ...(this.slirpNet.ipv6 ? ["--enable-ipv6"] : []),
        `--cidr=${this.slirpNet.cidr}`,
        "--netns-type=path",
        `/run/netns/${name}`,
        "tap0",
        "--ready-fd=3",
      ];
      lines = [
        `ready=$(${sh(slirp)} 3>&1 >/dev/null 2>${sh([errFile])} </dev/null & echo $! >${sh([pidFile])})`,
        // Removed from here once the script ends (below), not by an `rm` of its own: a process
        // less per container start.
        `if [ "$ready" != 1 ]; then cat ${sh([errFile])} >&2; exit 1; fi`,
      ];
      // Its IPv6 address would come from a router advertisement a moment later: set now instead.
      if (this.slirpNet.ipv6)
        batch = [...fence, "addr add fd00::100/64 dev tap0 nodad\n", "route add default via fd00::2\n"];
    }
    const ipBatch = sh([this.ip, "-n", name, "-force", "-batch", "-"]);
    const script = ["set -e", sh([this.ip, ...naming]), ...lines, ...(batch.length > 0 ? [ipBatch] : [])].join("\n");
    try {
      await this.helper.run("/bin/sh", ["-c", script], batch.join(""));
    } finally {
      const pid = readPidFile(pidFile);
      if (pid !== undefined) this.natPids.set(name, pid);
      rmSync(pidFile, { force: true });
      rmSync(join(this.pidDir, `${name}.err`), { force: true });
    }
  }

  /**
   * Ends the namespace's NAT process at once; its name goes with others in one `ip -batch` a
   * moment later (one process for several, off a cold start's path). Resolves once it is gone.
   */
  private remove(name: string): Promise<void> {
    const nat = this.natPids.get(name);
    this.natPids.delete(name);
    if (nat !== undefined) signalPid(nat, "SIGTERM");
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

/**
 * NAT processes serving a namespace named by a server that is gone: pasta's `--netns skiff-PID-N`,
 * slirp4netns's `/run/netns/skiff-PID-N`.
 */
function strayNats(): number[] {
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
      if (!/^(pas(ta|st)|slirp4netns)/.test(readFileSync(`/proc/${pid}/comm`, "utf8"))) continue;
      argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      continue;
    }
    const named = argv[0]?.endsWith("pasta")
      ? argv[argv.indexOf("--netns") + 1]
      : argv[0]?.endsWith("slirp4netns")
        ? argv.find((a) => a.startsWith("/run/netns/"))?.slice("/run/netns/".length)
        : undefined;
    const m = /^skiff-(\d+)-\d+$/.exec(named ?? "");
    if (m && !alive(Number(m[1]))) out.push(Number(pid));
  }
  return out;
}

/** The first of a few private /24s that no IPv4 network of the host overlaps; IPv6 unless fd00::/64 is the host's. */
export function slirpNetwork(
  nets: { address: string; cidr: string | null; family: string }[] = Object.values(networkInterfaces()).flatMap(
    (l) => l ?? [],
  ),
): { cidr: string; ipv6: boolean } {
  const v4 = nets.filter((n) => n.family === "IPv4" && !n.address.startsWith("127."));
  const subnet = (cidr: string, family: "ipv4" | "ipv6") => {
    const [address = "", bits] = cidr.split("/");
    const list = new BlockList();
    list.addSubnet(address, Number(bits ?? (family === "ipv4" ? 32 : 128)), family);
    return list;
  };
  // Two prefixes overlap exactly when one holds the other: the candidate holds a host address,
  // or the host's network holds the candidate's first address.
  const free = (cidr: string) => {
    const candidate = subnet(cidr, "ipv4");
    const first = cidr.split("/")[0] ?? "";
    return v4.every(
      (n) => !candidate.check(n.address, "ipv4") && !subnet(n.cidr ?? `${n.address}/32`, "ipv4").check(first, "ipv4"),
    );
  };
  const cidr = ["10.0.2.0/24", "10.217.0.0/24", "172.31.254.0/24", "192.168.254.0/24"].find(free) ?? "10.0.2.0/24";
  // slirp4netns's IPv6 is always fd00::/64: off where the host has an address there (its
  // neighbours would look on-link inside the container, and be unreachable).
  const fd00 = subnet("fd00::/64", "ipv6");
  const ipv6 = !nets.some((n) => n.family === "IPv6" && fd00.check(n.address.split("%")[0] ?? "", "ipv6"));
  return { cidr, ipv6 };
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
