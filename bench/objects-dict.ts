// Dict get/put p50 from a client, beside GET/SET on redis-server through ioredis, in the same
// run. Redis runs twice: with no persistence (the fastest it gets), and with appendonly yes,
// the closest to a Dict's "durable before it resolves" (both then survive a kill -9 of the
// server process; neither fsyncs each write). The floor beside them: one WebSocket round trip
// between two Node processes with a CBOR frame each way (bench/lib/ws-floor.ts), what any
// request of a Skiff client costs before the server does anything; and the same round trip with
// the echo server committing the value to SQLite first, as the store does (the floor of a
// durable put on this transport and store).
import { Redis } from "ioredis";
import { Dict } from "skiff";
import { cpuMsFine } from "./lib/proc-cpu.js";
import { startRedis } from "./lib/redis.js";
import { startSkiffServer } from "./lib/skiff-server.js";
import { ms, summarize } from "./lib/stats.js";
import { startWsFloor } from "./lib/ws-floor.js";

const N = Number(process.env.BENCH_N ?? 3000);
// Before each timed phase, for every peer alike. 3 000: every key of the 1 000 written (so the
// timed puts overwrite, as Redis's SETs do) and the server's code compiled by V8's optimizing
// tier; with 500, the first timed puts still ran unoptimized server code (server CPU per put
// 190 µs in the first 3 000 puts after a start, 75–80 µs from then on, bench/RESULTS.md).
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3000);
const value = { user: "u-123", score: 42, tags: ["a", "b"] };
// Each put writes a value of its own: SQLite skips a write whose bytes equal what is stored,
// which would make a put of the same value cost no write at all.
const valueAt = (i: number) => ({ ...value, score: i });

/**
 * p50/p99 of `n` timed calls after the warm-up; this process's CPU per timed call (µs), and
 * with `pid` the server process's (its threads', from the scheduler's counts).
 */
async function time(n: number, fn: (i: number) => Promise<unknown>, pid?: number) {
  for (let i = 0; i < WARMUP; i++) await fn(i);
  const samples: number[] = [];
  const c0 = pid === undefined ? 0 : cpuMsFine(pid);
  const own = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    samples.push(performance.now() - t);
  }
  const u = process.cpuUsage(own);
  return {
    ...summarize(samples),
    clientUs: (u.user + u.system) / n,
    cpuUs: pid === undefined ? Number.NaN : ((cpuMsFine(pid) - c0) * 1000) / n,
  };
}

async function skiff() {
  const server = await startSkiffServer();
  try {
    const d = Dict.fromName<string, typeof value>("bench", { createIfMissing: true, client: server.client });
    // The server's CPU per operation too: steadier than latency on a busy machine.
    const put = await time(N, (i) => d.put(`k${i % 1000}`, valueAt(i)), server.proc.pid);
    const get = await time(N, (i) => d.get(`k${i % 1000}`), server.proc.pid);
    return { put, get };
  } finally {
    await server.stop();
  }
}

async function redis(extra: string[]) {
  const port = 17379 + Math.floor(Math.random() * 1000);
  const r = await startRedis(port, extra);
  const c = new Redis({ port, host: "127.0.0.1" });
  try {
    const put = await time(N, (i) => c.set(`k${i % 1000}`, JSON.stringify(valueAt(i))));
    const get = await time(N, async (i) => JSON.parse((await c.get(`k${i % 1000}`)) ?? "null"));
    return { put, get };
  } finally {
    c.disconnect();
    await r.stop();
  }
}

async function floor(commit = false) {
  const f = await startWsFloor({ commit });
  try {
    return await time(N, (i) => f.roundTrip(i), f.pid);
  } finally {
    await f.stop();
  }
}

const s = await skiff();
const rMem = await redis([]);
const rAof = await redis(["--appendonly", "yes"]);
const wsFloor = await floor();
const commitFloor = await floor(true);
console.log(`objects-dict: ${N} sequential operations after ${WARMUP} warm-up, one client`);
for (const [name, x] of [
  ["skiff Dict", s],
  ["redis (no persistence)", rMem],
  ["redis (appendonly yes)", rAof],
] as const)
  console.log(
    `  ${name.padEnd(24)} put p50 ${ms(x.put.p50)} p99 ${ms(x.put.p99)}   get p50 ${ms(x.get.p50)} p99 ${ms(x.get.p99)}`,
  );
const us = (x: number) => x.toFixed(0).padStart(3);
console.log(
  `  CPU per op (us)          server: skiff put ${us(s.put.cpuUs)} get ${us(s.get.cpuUs)}, floor ${us(wsFloor.cpuUs)}, commit floor ${us(commitFloor.cpuUs)}   client: skiff put ${us(s.put.clientUs)} get ${us(s.get.clientUs)}, floor ${us(wsFloor.clientUs)}, commit floor ${us(commitFloor.clientUs)}, ioredis SET ${us(rMem.put.clientUs)} GET ${us(rMem.get.clientUs)}`,
);
console.log(
  `  ${"node ws round trip".padEnd(24)} p50 ${ms(wsFloor.p50)} p99 ${ms(wsFloor.p99)}   (the floor: one WebSocket round trip, CBOR each way)`,
);
console.log(
  `  ${"node ws + sqlite commit".padEnd(24)} p50 ${ms(commitFloor.p50)} p99 ${ms(commitFloor.p99)}   (the floor of a durable put: the same, the server commits the value first)`,
);
console.log(
  `  ratio skiff/redis p50   put ${(s.put.p50 / rMem.put.p50).toFixed(2)}x (aof ${(s.put.p50 / rAof.put.p50).toFixed(2)}x)   get ${(s.get.p50 / rMem.get.p50).toFixed(2)}x (aof ${(s.get.p50 / rAof.get.p50).toFixed(2)}x)   (target <= 2x)`,
);
console.log(
  `  ratio floor/redis p50   ${(wsFloor.p50 / rMem.get.p50).toFixed(2)}x (with commit, to SET ${(commitFloor.p50 / rMem.put.p50).toFixed(2)}x)   skiff/floor p50   put ${(s.put.p50 / commitFloor.p50).toFixed(2)}x (of the commit floor)   get ${(s.get.p50 / wsFloor.p50).toFixed(2)}x`,
);
