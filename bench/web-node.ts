// Node apps behind Skiff beside the same apps served directly, in the same run: a JSON POST
// round trip through Express (autocannon, BENCH_CONNECTIONS connections, BENCH_SECONDS per
// round, BENCH_ROUNDS alternating rounds; sequential p50 from BENCH_N requests), and WebSocket
// echo messages per second (BENCH_WS_CLIENTS clients, each keeping BENCH_WS_WINDOW 64-byte
// messages in flight) through Skiff's tunnel beside a direct `ws` server.
import { fork } from "node:child_process";
import { Agent, request } from "node:http";
import autocannon from "autocannon";
import { WebSocket } from "ws";
import { runCli, startSkiffServer } from "./lib/skiff-server.js";
import { ms, summarize } from "./lib/stats.js";

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const N = Number(process.env.BENCH_N ?? 2000);
const WS_CLIENTS = Number(process.env.BENCH_WS_CLIENTS ?? 4);
const WS_WINDOW = Number(process.env.BENCH_WS_WINDOW ?? 32);

const BODY = JSON.stringify({ user: "ada", items: [1, 2, 3, 4, 5], note: "x".repeat(120) });
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function post(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, method: "POST", headers: { "content-type": "application/json" } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${res.statusCode}: ${body}`))));
    });
    req.on("error", reject).end(BODY);
  });
}

async function latency(url: string) {
  if ((await post(url)) !== BODY) throw new Error(`unexpected answer from ${url}`);
  for (let i = 0; i < 300; i++) await post(url);
  const samples: number[] = [];
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    await post(url);
    samples.push(performance.now() - t);
  }
  return summarize(samples);
}

async function load(url: string) {
  const r = await autocannon({
    url,
    method: "POST",
    body: BODY,
    headers: { "content-type": "application/json" },
    connections: CONNECTIONS,
    duration: SECONDS,
  });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return r.requests.average;
}

/** Echoed messages per second over SECONDS, WS_CLIENTS clients with WS_WINDOW in flight each. */
async function wsRate(url: string): Promise<number> {
  const msg = Buffer.alloc(64, 97);
  const clients = await Promise.all(
    Array.from(
      { length: WS_CLIENTS },
      () =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(url, { perMessageDeflate: false });
          ws.once("open", () => resolve(ws));
          ws.once("error", reject);
        }),
    ),
  );
  let echoed = 0;
  let running = true;
  for (const ws of clients) {
    ws.on("message", () => {
      echoed++;
      if (running) ws.send(msg);
    });
    for (let i = 0; i < WS_WINDOW; i++) ws.send(msg);
  }
  await new Promise((r) => setTimeout(r, 500)); // warm-up
  const start = echoed;
  const t = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const rate = ((echoed - start) * 1000) / (performance.now() - t);
  running = false;
  for (const ws of clients) ws.close();
  return rate;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[]) => xs.map((r) => `${(100 * r).toFixed(0)}%`).join(", ");

const server = await startSkiffServer();
const direct = fork(new URL("./lib/node-direct.ts", import.meta.url), [], { execArgv: ["--import", "tsx"] });
try {
  const d = await runCli(["deploy", "bench/apps/web-node.ts"], server.env);
  if (d.code !== 0) throw new Error(d.out);
  const ports = await new Promise<{ express: number; ws: number }>((r) =>
    direct.once("message", (m) => r(m as { express: number; ws: number })),
  );
  const gw = `${server.url}/web/bench-node/echo/echo`;
  const dx = `http://127.0.0.1:${ports.express}/echo`;
  const gLat = await latency(gw);
  const dLat = await latency(dx);
  const g: number[] = [];
  const h: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    g.push(await load(gw));
    h.push(await load(dx));
  }
  const gws = `${server.url.replace("http", "ws")}/web/bench-node/ws/`;
  const dws = `ws://127.0.0.1:${ports.ws}/`;
  const gw2: number[] = [];
  const dw2: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    gw2.push(await wsRate(gws));
    dw2.push(await wsRate(dws));
  }
  const ratio = g.map((x, i) => x / h[i]!);
  const wsRatio = gw2.map((x, i) => x / dw2[i]!);
  console.log(
    `web-node: Express JSON POST (${BODY.length} B), autocannon ${CONNECTIONS} connections, ${ROUNDS} alternating rounds of ${SECONDS} s; ${N} sequential for latency`,
  );
  console.log(
    `  express behind skiff  ${median(g).toFixed(0).padStart(6)} req/s (rounds ${g.map((x) => x.toFixed(0)).join(", ")})   sequential p50 ${ms(gLat.p50)} p99 ${ms(gLat.p99)}`,
  );
  console.log(
    `  express direct        ${median(h).toFixed(0).padStart(6)} req/s (rounds ${h.map((x) => x.toFixed(0)).join(", ")})   sequential p50 ${ms(dLat.p50)} p99 ${ms(dLat.p99)}`,
  );
  console.log(`  skiff/direct ${(100 * median(ratio)).toFixed(1)}% (rounds ${pct(ratio)})`);
  console.log(
    `web-node: WebSocket echo, ${WS_CLIENTS} clients × ${WS_WINDOW} 64-byte messages in flight, ${SECONDS} s rounds`,
  );
  console.log(
    `  ws behind skiff  ${median(gw2).toFixed(0).padStart(7)} msgs/s (rounds ${gw2.map((x) => x.toFixed(0)).join(", ")})`,
  );
  console.log(
    `  ws direct        ${median(dw2).toFixed(0).padStart(7)} msgs/s (rounds ${dw2.map((x) => x.toFixed(0)).join(", ")})`,
  );
  console.log(`  skiff/direct ${(100 * median(wsRatio)).toFixed(1)}% (rounds ${pct(wsRatio)})`);
} finally {
  direct.kill("SIGTERM");
  await server.stop();
}
