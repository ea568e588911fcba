// Requests/s and latency of a trivial JSON web endpoint through the gateway (HTTP → control
// plane → sandboxed container → back), beside the same handler on a plain Hono server, in the
// same run. Throughput with autocannon (BENCH_CONNECTIONS connections, BENCH_SECONDS each);
// latency from BENCH_N sequential keep-alive requests, timed one by one. Throughput rounds
// alternate between the two servers (BENCH_ROUNDS), and medians are reported: on a shared
// 2-core machine the background load moves single runs by 2x.
import { fork } from "node:child_process";
import { Agent, request } from "node:http";
import autocannon from "autocannon";
import { cpuMs } from "./lib/proc-cpu.js";
import { descendants } from "./lib/proc-mem.js";
import { runCli, startSkiffServer } from "./lib/skiff-server.js";
import { ms, summarize } from "./lib/stats.js";

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const N = Number(process.env.BENCH_N ?? 3000);

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request(url, { agent }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${res.statusCode}: ${body}`))));
    })
      .on("error", reject)
      .end();
  });
}

/** Sequential latency, one request at a time on one keep-alive connection. */
async function latency(url: string) {
  if ((await get(url)) !== '{"ok":true}') throw new Error(`unexpected answer from ${url}`);
  for (let i = 0; i < 500; i++) await get(url); // warm-up: containers, JIT, connections
  const samples: number[] = [];
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    await get(url);
    samples.push(performance.now() - t);
  }
  return summarize(samples);
}

/**
 * CPU (ms) of each side's processes: the server (or Hono), the server's containers (every
 * descendant: bwrap and the runtimes), and this process (autocannon).
 */
function cpuOf(pid: number): { server: number; containers: number; bench: number } {
  const u = process.cpuUsage();
  return {
    server: cpuMs(pid),
    containers: descendants(pid).reduce((a, p) => a + cpuMs(p), 0),
    bench: (u.user + u.system) / 1000,
  };
}

async function load(url: string, pid: number) {
  const before = cpuOf(pid);
  const r = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS });
  const after = cpuOf(pid);
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  // CPU per request in µs: less distorted by other load than req/s is.
  const per = (k: keyof typeof before) => ((after[k] - before[k]) * 1000) / r.requests.total;
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    cpu: { server: per("server"), containers: per("containers"), bench: per("bench") },
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const portOf = (p: ReturnType<typeof fork>) =>
  new Promise<number>((r) => p.once("message", (m) => r((m as { port: number }).port)));

const server = await startSkiffServer();
const hono = fork(new URL("./lib/hono-direct.ts", import.meta.url), [], { execArgv: ["--import", "tsx"] });
// The gateway's shape with nothing of Skiff in it: what two processes and a hop cost (lib/proxy-floor.ts).
const floor = fork(new URL("./lib/proxy-floor.ts", import.meta.url), [], { execArgv: ["--import", "tsx"] });
try {
  const d = await runCli(["deploy", "bench/apps/web.ts"], server.env);
  if (d.code !== 0) throw new Error(d.out);
  const gw = `${server.url}/web/bench-web/ping`;
  const direct = `http://127.0.0.1:${await portOf(hono)}/`;
  const proxied = `http://127.0.0.1:${await portOf(floor)}/`;
  const gLat = await latency(gw);
  const hLat = await latency(direct);
  const fLat = await latency(proxied);
  // Rounds alternate between the three, so all see the same background load.
  const g: Awaited<ReturnType<typeof load>>[] = [];
  const h: Awaited<ReturnType<typeof load>>[] = [];
  const f: Awaited<ReturnType<typeof load>>[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    g.push(await load(gw, server.proc.pid!));
    h.push(await load(direct, hono.pid!));
    f.push(await load(proxied, floor.pid!));
  }
  const ratios = g.map((x, i) => x.rps / h[i]!.rps);
  const floorRatios = f.map((x, i) => x.rps / h[i]!.rps);
  const row = (name: string, xs: typeof g, lat: typeof gLat) =>
    `  ${name.padEnd(28)} ${median(xs.map((x) => x.rps))
      .toFixed(0)
      .padStart(
        6,
      )} req/s (rounds: ${xs.map((x) => x.rps.toFixed(0)).join(", ")})   under load p50 ${median(xs.map((x) => x.p50))} ms p99 ${median(xs.map((x) => x.p99))} ms   sequential p50 ${ms(lat.p50)} p99 ${ms(lat.p99)}`;
  console.log(
    `web-throughput: autocannon ${CONNECTIONS} connections, ${ROUNDS} alternating rounds of ${SECONDS} s; ${N} sequential requests for latency`,
  );
  console.log(row("skiff gateway (webEndpoint)", g, gLat));
  console.log(row("hono direct (node-server)", h, hLat));
  console.log(row("two-process floor (no Skiff)", f, fLat));
  const cpu = (xs: typeof g, k: "server" | "containers" | "bench") => median(xs.map((x) => x.cpu[k])).toFixed(1);
  const both = (xs: typeof g) => median(xs.map((x) => x.cpu.server + x.cpu.containers)).toFixed(1);
  console.log(
    `  CPU per request (µs, medians of rounds): gateway server ${cpu(g, "server")} + container ${cpu(g, "containers")} = ${both(g)}; hono ${cpu(h, "server")}; floor ${cpu(f, "server")} + ${cpu(f, "containers")} = ${both(f)}; autocannon ${cpu(g, "bench")} / ${cpu(h, "bench")} / ${cpu(f, "bench")}`,
  );
  const pct = (xs: number[]) =>
    `${(100 * median(xs)).toFixed(1)}% (rounds: ${xs.map((r) => `${(100 * r).toFixed(0)}%`).join(", ")})`;
  console.log(`  floor/direct throughput ${pct(floorRatios)}`);
  console.log(`  gateway/direct throughput ${pct(ratios)}   (targets: >= 50%; gateway p50 <= 1 ms: ${ms(gLat.p50)})`);
} finally {
  hono.kill("SIGTERM");
  floor.kill("SIGTERM");
  await server.stop();
}
