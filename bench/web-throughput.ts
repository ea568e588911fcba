// Requests/s and latency of a trivial JSON web endpoint through the gateway (HTTP → control
// plane → sandboxed container → back), beside the same handler on a plain Hono server, in the
// same run. Throughput with autocannon (BENCH_CONNECTIONS connections, BENCH_SECONDS each);
// latency from BENCH_N sequential keep-alive requests, timed one by one. Throughput rounds
// alternate between the two servers (BENCH_ROUNDS), and medians are reported: on a shared
// 2-core machine the background load moves single runs by 2x.
import { fork } from "node:child_process";
import { Agent, request } from "node:http";
import autocannon from "autocannon";
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

async function load(url: string) {
  const r = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const server = await startSkiffServer();
const hono = fork(new URL("./lib/hono-direct.ts", import.meta.url), [], { execArgv: ["--import", "tsx"] });
try {
  const d = await runCli(["deploy", "bench/apps/web.ts"], server.env);
  if (d.code !== 0) throw new Error(d.out);
  const { port } = await new Promise<{ port: number }>((r) => hono.once("message", (m) => r(m as { port: number })));
  const gw = `${server.url}/web/bench-web/ping`;
  const direct = `http://127.0.0.1:${port}/`;
  const gLat = await latency(gw);
  const hLat = await latency(direct);
  // Rounds alternate between the two, so both see the same background load.
  const g: Awaited<ReturnType<typeof load>>[] = [];
  const h: Awaited<ReturnType<typeof load>>[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    g.push(await load(gw));
    h.push(await load(direct));
  }
  const ratios = g.map((x, i) => x.rps / h[i]!.rps);
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
  console.log(
    `  gateway/direct throughput ${(100 * median(ratios)).toFixed(1)}% (rounds: ${ratios.map((r) => `${(100 * r).toFixed(0)}%`).join(", ")})   (targets: >= 30%; gateway p50 <= 2 ms: ${ms(gLat.p50)})`,
  );
} finally {
  hono.kill("SIGTERM");
  await server.stop();
}
