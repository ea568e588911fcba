// Where a container start goes (issue 16 items 1 and 5), each part measured on its own, in
// fresh processes, medians of BENCH_N (15): the process (`node -e 0`), the sandbox (the same in
// bubblewrap), loading the runtime's modules (by package, CPU time in the process), the first
// WebSocket handshake to the control socket (cold, and the same process's second), and loading
// an app bundle. A scale-up beyond the warm pool pays all of them; a pooled runtime only the
// last two (it has started, loaded its modules and warmed its handshake while idle).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { bundleApp } from "@skiff/cli";
import { REPO } from "./lib/skiff-server.js";

const N = Number(process.env.BENCH_N ?? 15);
/** The Node the probes run on (BENCH_NODE): e.g. the containers' Node 24 against the host's. */
const PROBE_NODE = process.env.BENCH_NODE || process.execPath;
/**
 * The environment a container's node starts with: none of the host's NODE_* settings. A
 * NODE_EXTRA_CA_CERTS here (this machine sets one) made every probe load the certificates, and
 * "node's own boot" read 56-64 ms of CPU instead of the ~22 ms a container's node takes.
 */
const CONTAINER_ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("NODE_")));
const WORKER = join(REPO, "packages/worker");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const f1 = (x: number) => x.toFixed(1).padStart(6);

function wall(cmd: string, args: string[]): number {
  const t = performance.now();
  const r = spawnSync(cmd, args, { stdio: "ignore", env: CONTAINER_ENV });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed`);
  return performance.now() - t;
}

/** Runs a module script in a fresh node (cwd: the worker package) and returns its JSON line. */
function probe<T>(code: string, env: NodeJS.ProcessEnv = CONTAINER_ENV): T {
  const out = execFileSync(PROBE_NODE, ["--input-type=module", "-e", code], {
    cwd: WORKER,
    env,
    encoding: "utf8",
  });
  return JSON.parse(out.trim().split("\n").pop()!) as T;
}

const node = Array.from({ length: N }, () => wall(PROBE_NODE, ["-e", "0"]));
let bwrap: number[] = [];
try {
  const sandbox = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all", "--share-net"];
  bwrap = Array.from({ length: N }, () => wall("bwrap", [...sandbox, "--", PROBE_NODE, "-e", "0"]));
} catch {}

// The runtime's module graph, in the order it loads, CPU ms per part.
const GROUPS: [string, string[]][] = [
  ["cbor-x (payload codec)", ["cbor-x"]],
  ["@skiff/protocol", ["@skiff/protocol"]],
  ["ws (+ node http, tls, crypto)", ["ws"]],
  ["skiff SDK", ["skiff", "skiff/internal"]],
  [
    "runtime's own modules",
    ["runner", "exec", "thread-pool", "target", "load-bundle", "log-capture", "input-context"].map(
      (m) => `./dist/runtime/${m}.js`,
    ),
  ],
];
const modCode = `
const out = { boot: 0, parts: [] };
const c0 = process.cpuUsage();
out.boot = (c0.user + c0.system) / 1000;
for (const specs of ${JSON.stringify(GROUPS.map(([, s]) => s))}) {
  const c = process.cpuUsage();
  for (const s of specs) await import(s);
  const d = process.cpuUsage(c);
  out.parts.push((d.user + d.system) / 1000);
}
console.log(JSON.stringify(out));`;
const mods = Array.from({ length: N }, () => probe<{ boot: number; parts: number[] }>(modCode));

// The runtime's entry as a container runs it, unbundled and bundled (scripts/bundle-runtime.mjs),
// to the point where it reads its environment (without one it stops there): CPU of the whole
// process, boot included, and of the imports alone.
const entryCode = (entry: string) => `
const c0 = process.cpuUsage();
process.on("exit", () => {
  const c = process.cpuUsage();
  const d = process.cpuUsage(c0);
  console.log(JSON.stringify({ all: (c.user + c.system) / 1000, imports: (d.user + d.system) / 1000 }));
});
await import(${JSON.stringify(entry)});`;
const entryRuns = (entry: string) =>
  Array.from({ length: N }, () => {
    const r = spawnSync(PROBE_NODE, ["--input-type=module", "-e", entryCode(entry)], {
      cwd: WORKER,
      env: CONTAINER_ENV,
      encoding: "utf8",
    });
    return JSON.parse(r.stdout.trim().split("\n").pop()!) as { all: number; imports: number };
  });
const graph = entryRuns("./dist/runtime/main.js");
const bundled = existsSync(join(WORKER, "dist/runtime-bundle/main.js"))
  ? entryRuns("./dist/runtime-bundle/main.js")
  : [];

// First and second WebSocket handshake of a process, to a server on a unix socket (ms, wall).
const dir = mkdtempSync(join(tmpdir(), "skiff-start-cost-"));
const sock = join(dir, "s.sock");
const server = `
import { createServer } from "node:http";
import { WebSocketServer } from "ws";
const http = createServer();
const wss = new WebSocketServer({ noServer: true });
http.on("upgrade", (req, s, head) => wss.handleUpgrade(req, s, head, () => {}));
http.listen(${JSON.stringify(sock)}, () => console.log("{}"));`;
const srv = (await import("node:child_process")).spawn(PROBE_NODE, ["--input-type=module", "-e", server], {
  cwd: WORKER,
  stdio: ["ignore", "pipe", "inherit"],
});
await new Promise<void>((r) => srv.stdout!.once("data", () => r()));
const wsCode = `
const { WebSocket } = await import("ws");
const once = () => new Promise((res, rej) => {
  const t = performance.now();
  const ws = new WebSocket(${JSON.stringify(`ws+unix://${sock}:/`)}, { perMessageDeflate: false });
  ws.on("open", () => { const d = performance.now() - t; ws.close(); res(d); });
  ws.on("error", rej);
});
const first = await once();
const second = await once();
console.log(JSON.stringify({ first, second }));`;
const hs = Array.from({ length: N }, () => probe<{ first: number; second: number }>(wsCode));
srv.kill();

// The container's cgroup (made and removed per container) and its network namespace with NAT
// (ip + pasta + the host fence, made per container when no spare is ready), wall ms each.
const { detectLimiter, limitsFor } = (await import(
  pathToFileURL(join(WORKER, "dist/sandbox/limits.js")).href
)) as typeof import("../packages/worker/src/sandbox/limits.js");
const { NatNetwork } = (await import(
  pathToFileURL(join(WORKER, "dist/sandbox/network.js")).href
)) as typeof import("../packages/worker/src/sandbox/network.js");
const { CommandHelper } = (await import(
  pathToFileURL(join(WORKER, "dist/sandbox/spawner.js")).href
)) as typeof import("../packages/worker/src/sandbox/spawner.js");
const limiter = detectLimiter("auto");
const cgroupMs: number[] = [];
if (limiter.kind !== "none") {
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    const cg = limiter.create(`bench-${i}`, limitsFor(undefined));
    await cg?.remove();
    cgroupMs.push(performance.now() - t);
  }
}
await limiter.close();
const netnsMs: number[] = [];
/** CPU ms of this process's waited-for children (cutime + cstime, 100 Hz ticks). */
const childCpu = () => {
  const stat = readFileSync("/proc/self/stat", "utf8");
  // Fields 16 and 17 (cutime, cstime), counted after the command's closing parenthesis.
  const x = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(x[13]) + Number(x[14])) * 10;
};
let netnsCpu = Number.NaN;
// Not started: its scripts run from this process, as the figure has always been measured.
const natHelper = new CommandHelper();
const { nat, why: natWhy } = NatNetwork.detect(natHelper);
if (nat) {
  const c0 = childCpu();
  for (let i = 0; i < N; i++) {
    const holder = (await import("node:child_process")).spawn("unshare", ["-n", "sleep", "30"], { stdio: "ignore" });
    await new Promise((r) => setTimeout(r, 20)); // unshare has made the namespace
    const t = performance.now();
    const remove = await nat.attach(holder.pid!);
    netnsMs.push(performance.now() - t);
    holder.kill("SIGKILL");
    void remove();
  }
  netnsCpu = (childCpu() - c0) / N;
  await nat.close();
  natHelper.close();
}

// Loading an app bundle the way the runtime does (its source map on), with skiff loaded.
const bundle = await bundleApp("bench/apps/fanout.ts");
const file = join(dir, "bundle.mjs");
writeFileSync(file, bundle.code);
rmSync(join(dir, "s.sock"), { force: true });
const bundleCode = `
await import("skiff");
process.setSourceMapsEnabled(true);
const t = performance.now();
const c = process.cpuUsage();
await import(${JSON.stringify(`file://${file}`)});
const d = process.cpuUsage(c);
console.log(JSON.stringify({ wall: performance.now() - t, cpu: (d.user + d.system) / 1000 }));`;
// The bundle imports "skiff": resolve it from the repository (the runtime links its own copy).
const { symlinkSync, mkdirSync } = await import("node:fs");
mkdirSync(join(dir, "node_modules"));
symlinkSync(join(REPO, "packages/skiff"), join(dir, "node_modules", "skiff"), "dir");
const bl = Array.from({ length: N }, () => probe<{ wall: number; cpu: number }>(bundleCode));
rmSync(dir, { recursive: true, force: true });

const runtimeTotal = median(mods.map((m) => m.parts.reduce((a, b) => a + b, 0)));
console.log(
  `start-cost: where a container start goes, medians of ${N} fresh processes (${bundle.code.byteLength} B bundle)`,
);
console.log(`  process start, node -e 0 (wall)           ${f1(median(node))} ms`);
if (bwrap.length > 0)
  console.log(
    `  sandbox, bwrap … node -e 0 (wall)          ${f1(median(bwrap))} ms   (+${(median(bwrap) - median(node)).toFixed(1)} ms)`,
  );
console.log(`  node's own boot, before any import (CPU)   ${f1(median(mods.map((m) => m.boot)))} ms`);
for (const [i, [name]] of GROUPS.entries())
  console.log(`  modules: ${name.padEnd(32)} ${f1(median(mods.map((m) => m.parts[i]!)))} ms CPU`);
console.log(`  runtime modules in all (CPU)               ${f1(runtimeTotal)} ms`);
const row = (name: string, xs: { all: number; imports: number }[]) =>
  console.log(
    `  ${name.padEnd(42)} ${f1(median(xs.map((x) => x.imports)))} ms CPU imports, ${median(xs.map((x) => x.all)).toFixed(1)} ms CPU with boot`,
  );
row("runtime entry, module graph (unbundled)", graph);
if (bundled.length > 0) {
  row("runtime entry, bundled", bundled);
  console.log(
    `  ratio bundled / unbundled imports          ${(median(bundled.map((x) => x.imports)) / median(graph.map((x) => x.imports))).toFixed(2)}x`,
  );
} else console.log("  runtime entry, bundled: not built (node packages/worker/scripts/bundle-runtime.mjs)");
console.log(
  cgroupMs.length > 0
    ? `  cgroup made and removed (${limiter.kind}, wall)  ${f1(median(cgroupMs))} ms`
    : "  cgroup: none here (no limiter)",
);
console.log(
  netnsMs.length > 0
    ? `  network namespace + NAT (ip, pasta, fence)  ${f1(median(netnsMs))} ms wall, ~${netnsCpu.toFixed(0)} ms CPU of the processes it waits for (pasta's own daemon apart); a pooled runtime or a spare namespace has it already`
    : `  network namespace + NAT: not here (${natWhy})`,
);
console.log(
  `  first WebSocket handshake (wall)           ${f1(median(hs.map((h) => h.first)))} ms   (the same process's second: ${median(hs.map((h) => h.second)).toFixed(1)} ms)`,
);
console.log(
  `  app bundle import, source maps on          ${f1(median(bl.map((b) => b.wall)))} ms wall, ${median(bl.map((b) => b.cpu)).toFixed(1)} ms CPU`,
);
