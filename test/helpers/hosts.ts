import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bareEnv, REPO, type RunResult, SKIFF_BIN, scratchDir } from "./cli.js";
import { ClusterRecord, removeNamespaces, removeNatNamespacesOf, sweepDeadClusters } from "./cluster-reaper.js";

/**
 * Hosts for tests of workers: each node (the control plane = node 0, workers 1…) in its own
 * network namespace, joined by veth pairs to a bridge that lives in a hub namespace of its own,
 * so no traffic touches the machine's own network. Everything is named after this process
 * and removed by destroy(); what a killed test file left is removed by the next cluster's
 * start (cluster-reaper.ts). Needs root and `ip` (netnsAvailable()).
 */
export interface Cluster {
  /** The control plane's URL as the nodes see it. */
  readonly serverUrl: string;
  readonly home: string;
  /** Env for CLI commands on node 0 (profile of the server once started). */
  env: NodeJS.ProcessEnv;
  /** Starts a long-running process on a node (`skiff …` args). */
  spawnOn(node: number, args: string[], opts?: { hide?: string[]; env?: NodeJS.ProcessEnv }): Proc;
  /** Runs `skiff …` on a node to completion. */
  skiffOn(node: number, args: string[], opts?: { env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<RunResult>;
  /** Takes a node's link down (or up again). */
  setLink(node: number, up: boolean): void;
  destroy(): Promise<void>;
}

export interface Proc {
  child: ChildProcess;
  output(): string;
  /** Resolves when the output matches. */
  waitFor(re: RegExp, what: string, timeoutMs?: number): Promise<RegExpExecArray>;
  /**
   * SIGTERM (or SIGKILL) and wait for the exit. After a SIGKILL, which a worker cannot clean up
   * after, the NAT namespaces it made for its containers are removed with what runs in them.
   */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Resolves once the process has exited (also when it exited before this was read). */
  exited: Promise<void>;
}

export function netnsAvailable(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root for ip netns";
  try {
    execFileSync("ip", ["netns", "list"], { stdio: "ignore" });
  } catch {
    return "the ip command (iproute2) is missing";
  }
  return undefined;
}

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

const addr = (node: number) => `10.77.0.${node + 1}`;

export async function makeCluster(nodes: number): Promise<Cluster> {
  sweepDeadClusters();
  const tag = `sk${process.pid % 100000}`;
  const hub = `${tag}-hub`;
  const ns = (n: number) => `${tag}-n${n}`;
  const made: string[] = [];
  const procs = new Set<Proc>();
  /** Every process started on a node (a stopped worker's NAT namespaces may outlive it). */
  const started: number[] = [];
  const home = scratchDir("cluster");
  const record = new ClusterRecord(home);
  const addNamespace = (name: string) => {
    record.namespace(name);
    ip("netns", "add", name);
    made.push(name);
  };
  const cleanup = () => {
    removeNatNamespacesOf(started);
    removeNamespaces(made.reverse());
  };
  try {
    addNamespace(hub);
    ip("-n", hub, "link", "add", "br0", "type", "bridge");
    ip("-n", hub, "link", "set", "br0", "up");
    for (let i = 0; i < nodes; i++) {
      addNamespace(ns(i));
      ip("-n", hub, "link", "add", `p${i}`, "type", "veth", "peer", "name", "eth0", "netns", ns(i));
      ip("-n", hub, "link", "set", `p${i}`, "master", "br0", "up");
      ip("-n", ns(i), "addr", "add", `${addr(i)}/24`, "dev", "eth0");
      ip("-n", ns(i), "link", "set", "eth0", "up");
      ip("-n", ns(i), "link", "set", "lo", "up");
      // A default route (to an address nobody has): containers get their network from pasta,
      // which copies an interface that has one. Nothing leaves the hub: it has no uplink.
      ip("-n", ns(i), "route", "add", "default", "via", "10.77.0.254", "dev", "eth0");
    }
  } catch (err) {
    cleanup();
    record.done();
    throw err;
  }
  const serverUrl = `http://${addr(0)}:7420`;
  // The cluster tests tell where a function ran by the address its container sees: pasta copies
  // its worker's (10.77.0.x), where slirp4netns (the default NAT) gives every container 10.0.2.100.
  // Both NATs are tested on their own in security.test.
  const pasta = ["/usr/bin/pasta", "/usr/sbin/pasta"].some((p) => existsSync(p));
  const env = { ...bareEnv(home), SKIFF_SERVER_URL: serverUrl, ...(pasta ? { SKIFF_NAT: "pasta" } : {}) };

  const wrap = (node: number, argv: string[], hide: string[] = []): [string, string[]] => {
    // A worker never sees the control plane's files: its own mount namespace, with the
    // server's data directory covered by an empty tmpfs.
    if (hide.length === 0) return ["ip", ["netns", "exec", ns(node), ...argv]];
    const mounts = hide.map((h) => `mount -t tmpfs -o size=1m none '${h}'`).join(" && ");
    return [
      "ip",
      ["netns", "exec", ns(node), "unshare", "--mount", "sh", "-c", `${mounts} && exec "$0" "$@"`, ...argv],
    ];
  };

  return {
    serverUrl,
    home,
    env,
    spawnOn(node, args, opts = {}) {
      for (const h of opts.hide ?? []) mkdirSync(h, { recursive: true });
      const [file, argv] = wrap(node, [process.execPath, SKIFF_BIN, ...args], opts.hide);
      const child = spawn(file, argv, { env: opts.env ?? env, cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
      // `ip netns exec` and `unshare` exec what they run: this pid is the skiff process's.
      record.process(child.pid);
      if (child.pid !== undefined) started.push(child.pid);
      let out = "";
      child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
      child.stderr!.setEncoding("utf8").on("data", (d: string) => (out += d));
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      let closed: string | undefined; // how it ended, once its output is all in
      child.once("close", (code, signal) => (closed = String(code ?? signal)));
      const p: Proc = {
        child,
        exited,
        output: () => out,
        // Fails as soon as the process has ended without printing it (not at the timeout), with
        // the output as it is then.
        async waitFor(re, what, timeoutMs = 20_000) {
          const deadline = Date.now() + timeoutMs;
          for (;;) {
            const m = re.exec(out);
            if (m) return m;
            if (closed !== undefined || Date.now() > deadline)
              throw new Error(
                `${closed !== undefined ? `the process ended (${closed})` : "timed out"} waiting for ${what}; output:\n${out.slice(-3000)}`,
              );
            await new Promise((r) => setTimeout(r, 50));
          }
        },
        async stop(signal = "SIGTERM") {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          await exited;
          if (signal === "SIGKILL" && child.pid !== undefined) removeNatNamespacesOf([child.pid]);
          procs.delete(p);
        },
      };
      procs.add(p);
      return p;
    },
    skiffOn(node, args, opts = {}) {
      const [file, argv] = wrap(node, [process.execPath, SKIFF_BIN, ...args]);
      return new Promise((resolve, reject) => {
        const child = spawn(file, argv, { env: opts.env ?? env, cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
        record.process(child.pid);
        let stdout = "";
        let stderr = "";
        child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
        child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
        const timer = setTimeout(() => {
          child.kill("SIGKILL");
          reject(new Error(`skiff ${args.join(" ")} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
        }, opts.timeoutMs ?? 60_000);
        child.on("close", (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      });
    },
    setLink(node, up) {
      ip("-n", hub, "link", "set", `p${node}`, up ? "up" : "down");
    },
    async destroy() {
      // SIGTERM first: a worker that stops removes its containers and their namespaces itself.
      await Promise.all(
        [...procs].map(async (p) => {
          const killer = setTimeout(() => p.child.kill("SIGKILL"), 5000);
          await p.stop("SIGTERM");
          clearTimeout(killer);
        }),
      );
      cleanup();
      rmSync(home, { recursive: true, force: true });
      record.done();
    },
  };
}

/** A worker token file made on node 0 (the control plane's admin profile). */
export async function workerToken(c: Cluster, file: string): Promise<void> {
  rmSync(file, { force: true });
  const r = await c.skiffOn(0, ["token", "new", "--worker", "--output", file]);
  if (r.code !== 0) throw new Error(`token new --worker failed: ${r.stderr}`);
}

/** Stand-in GPU device files (regular files), outside anything a sandbox shows. */
export function fakeGpuDevices(count: number): { dir: string; paths: string[] } {
  const dir = join("/var/tmp", `skiff-gpu-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    writeFileSync(join(dir, `nvidia${i}`), `fake gpu ${i}\n`);
    paths.push(join(dir, `nvidia${i}`));
  }
  writeFileSync(join(dir, "nvidiactl"), "fake ctl\n");
  paths.push(join(dir, "nvidiactl"));
  return { dir, paths };
}
