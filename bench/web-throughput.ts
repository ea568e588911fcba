// Requests/s and latency of a trivial JSON web endpoint through the gateway (HTTP → control
// plane → sandboxed container → back), beside the same handler on a plain Hono server, in the
// same run. Throughput with autocannon (BENCH_CONNECTIONS connections, BENCH_SECONDS each);
// latency from BENCH_N sequential keep-alive requests, timed one by one.
import { fork } from "node:child_process";
import { Agent, request } from "node:http";
import autocannon from "autocannon";
import { runCli, startSkiffServer } from "./lib/skiff-server.js";
import { ms, summarize } from "./lib/stats.js";

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
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

async function measure(url: string) {
  if ((await get(url)) !== '{"ok":true}') throw new Error(`unexpected answer from ${url}`);
  for (let i = 0; i < 500; i++) await get(url); // warm-up: containers, JIT, connections
  const samples: number[] = [];
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    await get(url);
    samples.push(performance.now() - t);
  }
  const lat = summarize(samples);
  const r = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return { rps: r.requests.average, loadedP50: r.latency.p50, loadedP99: r.latency.p99, lat };
}

async function direct() {
  const child = fork(new URL("./lib/hono-direct.ts", import.meta.url), [], { execArgv: ["--import", "tsx"] });
  try {
    const { port } = await new Promise<{ port: number }>((r) => child.once("message", (m) => r(m as { port: number })));
    return await measure(`http://127.0.0.1:${port}/`);
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
}

async function gateway() {
  const server = await startSkiffServer();
  try {
    const d = await runCli(["deploy", "bench/apps/web.ts"], server.env);
    if (d.code !== 0) throw new Error(d.out);
    return await measure(`${server.url}/web/bench-web/ping`);
  } finally {
    await server.stop();
  }
}

const g = await gateway();
const h = await direct();
const row = (name: string, x: typeof g) =>
  `  ${name.padEnd(26)} ${x.rps.toFixed(0).padStart(6)} req/s   sequential p50 ${ms(x.lat.p50)}  p99 ${ms(x.lat.p99)}   under load p50 ${x.loadedP50} ms  p99 ${x.loadedP99} ms`;
console.log(`web-throughput: autocannon ${CONNECTIONS} connections x ${SECONDS} s; ${N} sequential requests`);
console.log(row("skiff gateway (webEndpoint)", g));
console.log(row("hono direct", h));
console.log(
  `  gateway/direct throughput ${((100 * g.rps) / h.rps).toFixed(1)}%   (targets: >= 30% of direct, p50 <= 2 ms: sequential p50 ${ms(g.lat.p50)})`,
);
