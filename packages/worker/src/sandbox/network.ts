import { execFile, execFileSync } from "node:child_process";
import { accessSync, constants, readdirSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { promisify } from "node:util";

const run = promisify(execFile);

const PASTA = ["/usr/bin/pasta", "/usr/sbin/pasta"];
const IP = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"];
/**
 * Namespaces kept ready ahead of containers: pasta takes a few hundred milliseconds to start
 * (a second on a loaded host), longer than a warm-pool runtime has between two cold starts.
 */
const SPARE = 3;
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
    private readonly pasta: string,
    private readonly ip: string,
    private readonly nsenter: string | undefined,
  ) {
    // Names of namespaces left by a server that died (the name holds its pid).
    for (const name of listNamed()) {
      const m = /^skiff-(\d+)-/.exec(name);
      if (m && !alive(Number(m[1]))) void this.remove(name);
    }
  }

  /** pasta where it can work here (root, pasta and ip installed), else why not. */
  static detect(): { nat?: NatNetwork; why?: string } {
    const pasta = PASTA.find(executable);
    const ip = IP.find(executable);
    if (!pasta) return { why: "pasta (Debian package passt) is not installed" };
    if (!ip) return { why: "ip (iproute2) is not installed" };
    if (process.getuid?.() !== 0) return { why: "outbound NAT for containers needs a server running as root" };
    return { nat: new NatNetwork(pasta, ip, NSENTER.find(executable)) };
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
    this.prepareSpares();
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
    while (this.nsenter && !this.closed && !this.spareFailed && this.spares.length + this.preparing < SPARE) {
      this.preparing++;
      const name = this.nextName();
      void run(this.ip, ["netns", "add", name])
        .then(() => this.connect(name))
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
    await Promise.all(this.spares.splice(0).map((s) => this.remove(s.name)));
  }

  /**
   * Gives the network namespace of process `pid` outbound NAT and fences off the host.
   * Resolves once it is ready; the returned function removes it.
   */
  async attach(pid: number): Promise<() => Promise<void>> {
    const name = this.nextName();
    await run(this.ip, ["netns", "attach", name, String(pid)]);
    try {
      await this.connect(name);
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
  private readonly onExit = () => {
    for (const name of this.named)
      try {
        execFileSync(this.ip, ["netns", "del", name], { stdio: "ignore" });
      } catch {}
  };

  /** pasta's NAT in namespace `name`, and a prohibit route to every address of the host. */
  private async connect(name: string): Promise<void> {
    await run(this.pasta, [
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
    ]);
    const fence: string[] = [];
    for (const addr of hostAddresses()) {
      const v6 = addr.includes(":");
      fence.push(`route add prohibit ${addr}/${v6 ? 128 : 32}`);
    }
    if (fence.length > 0) {
      const batch = run(this.ip, ["-n", name, "-force", "-batch", "-"]);
      batch.child.stdin?.end(`${fence.join("\n")}\n`);
      await batch;
    }
  }

  private async remove(name: string): Promise<void> {
    try {
      await run(this.ip, ["netns", "del", name]);
    } catch {}
    this.named.delete(name);
    if (this.named.size === 0) process.off("exit", this.onExit);
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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
