// CPU per web request of the gateway's server and its container: this checkout's build beside
// another's (the baseline, e.g. main), both servers up at once, autocannon rounds alternating
// between them, so both see the same background load. Reports, per request: the server's and
// the containers' CPU (µs, from the scheduler's own counts), and the server's read and write
// syscalls (/proc/<pid>/io). Throughput on a loaded 2-core machine moves 2x between runs; CPU
// per request moves far less.
//   node --import tsx bench/web-cpu-ab.ts <baseline checkout>
// BENCH_ROUNDS (6), BENCH_SECONDS (5), BENCH_CONNECTIONS (10), BENCH_TOGETHER (see below), BENCH_THIS_FIRST; BENCH_NODE_ARGS_A / _B: extra
// node flags for the baseline's / this server (e.g. to try a V8 flag on one side only).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import autocannon from "autocannon";
import { cpuMsFine } from "./lib/proc-cpu.js";
import { descendants } from "./lib/proc-mem.js";
import { runCli, startSkiffServer } from "./lib/skiff-server.js";

const baseline = process.argv[2];
if (!baseline) {
  console.error("usage: bench/web-cpu-ab.ts <baseline checkout>");
  process.exit(2);
}
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);

function io(pid: number): { r: number; w: number } {
  try {
    const t = readFileSync(`/proc/${pid}/io`, "utf8");
    return { r: Number(/syscr: (\d+)/.exec(t)![1]), w: Number(/syscw: (\d+)/.exec(t)![1]) };
  } catch {
    return { r: 0, w: 0 };
  }
}

interface Side {
  name: string;
  url: string;
  pid: number;
  stop(): Promise<void>;
  rows: { rps: number; server: number; container: number; syscr: number; syscw: number }[];
}

async function side(name: string, repo: string | undefined, nodeArgs: string | undefined): Promise<Side> {
  // Read by startSkiffServer as it starts the process.
  if (nodeArgs) process.env.SKIFF_SERVER_NODE_ARGS = nodeArgs;
  else delete process.env.SKIFF_SERVER_NODE_ARGS;
  // Another checkout's CLI runs its own server and container runtime; the CLI below is this one's.
  const server = await startSkiffServer([], repo ? { bin: join(repo, "packages/cli/bin/skiff.js") } : {});
  const d = await runCli(["deploy", "bench/apps/web.ts"], server.env);
  if (d.code !== 0) throw new Error(d.out);
  const url = `${server.url}/web/bench-web/ping`;
  // Warm: the container, the JIT, connections.
  await autocannon({ url, connections: CONNECTIONS, amount: 5000 });
  return { name, url, pid: server.proc.pid!, stop: () => server.stop(), rows: [] };
}

async function round(s: Side): Promise<void> {
  const kids = descendants(s.pid);
  const cpu = () => ({ server: cpuMsFine(s.pid), containers: kids.reduce((a, p) => a + cpuMsFine(p), 0) });
  const b = cpu();
  const ib = io(s.pid);
  const r = await autocannon({ url: s.url, connections: CONNECTIONS, duration: SECONDS });
  const a = cpu();
  const ia = io(s.pid);
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${s.url}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  const n = r.requests.total;
  s.rows.push({
    rps: r.requests.average,
    server: ((a.server - b.server) * 1000) / n,
    container: ((a.containers - b.containers) * 1000) / n,
    syscr: (ia.r - ib.r) / n,
    syscw: (ia.w - ib.w) / n,
  });
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

// BENCH_THIS_FIRST=1 starts this checkout's server first (to see whether the order matters).
const first = process.env.BENCH_THIS_FIRST === "1";
const started: Side[] = [];
for (const name of first ? ["this", "base"] : ["base", "this"])
  started.push(
    name === "base"
      ? await side("base", baseline, process.env.BENCH_NODE_ARGS_A)
      : await side("this", undefined, process.env.BENCH_NODE_ARGS_B),
  );
const sides = started[0]!.name === "base" ? started : [started[1]!, started[0]!];
try {
  // BENCH_TOGETHER=1: both sides are loaded at once in each round (the same background load at
  // the same moment); otherwise one after the other, the order alternating.
  if (process.env.BENCH_TOGETHER === "1") for (let i = 0; i < ROUNDS; i++) await Promise.all(sides.map(round));
  else for (let i = 0; i < ROUNDS; i++) for (const s of i % 2 === 0 ? sides : [...sides].reverse()) await round(s);
  for (const s of sides) {
    const col = (k: keyof Side["rows"][number], d = 1) =>
      `${median(s.rows.map((r) => r[k])).toFixed(d)} (${s.rows.map((r) => r[k].toFixed(d)).join(", ")})`;
    console.log(`${s.name}: req/s ${col("rps", 0)}`);
    console.log(`  server µs/req ${col("server")}`);
    console.log(`  container µs/req ${col("container")}`);
    console.log(`  server syscalls/req read ${col("syscr", 2)} write ${col("syscw", 2)}`);
  }
  const ratio = (k: "server" | "container") =>
    (median(sides[1]!.rows.map((r) => r[k])) / median(sides[0]!.rows.map((r) => r[k]))).toFixed(3);
  const pair = (k: "server" | "container") =>
    median(sides[1]!.rows.map((r, i) => r[k] / sides[0]!.rows[i]![k])).toFixed(3);
  console.log(
    `this/base: server ${ratio("server")} (median of round pairs ${pair("server")}), container ${ratio("container")} (pairs ${pair("container")})`,
  );
} finally {
  for (const s of sides) await s.stop();
}
