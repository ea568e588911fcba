// Queue throughput with putMany/getMany of small items, producer and consumer in separate
// processes, beside Redis LPUSH / BLMPOP (batched the same way) through ioredis, same run.
// The comparison, side by side:
// - warm peers: each side's producer and consumer connect and first move BENCH_WARM items
//   (default 50 000) exactly as in the timed run, not timed; then, after SETTLE_MS with
//   nothing sent, both are timed from one "go". The figures are then a long-lived producer's,
//   consumer's and server's, not a process start's: the peers' code is compiled and optimized,
//   and the Skiff server has started its WAL checkpoint thread (started at its 32nd commit,
//   its boot was ~10% of the server's CPU in the timed part when 20 000 items warmed up).
// - durability: Redis runs with appendonly yes and its default appendfsync everysec: each
//   write reaches the OS (the AOF file) before its reply, so an acknowledged put survives a
//   kill -9 of the server but not a power cut; a Queue put is committed to SQLite's WAL
//   (synchronous = NORMAL) before it resolves: the same.
// - batches: BENCH_BATCH items a call on both sides, two puts in flight (LPUSH / putMany),
//   one get at a time (BLMPOP COUNT / getMany); items are { id, kind: "job" } (each
//   JSON.stringify'd / JSON.parse'd for Redis; for Skiff a batch is one CBOR encode / decode).
// - delivery: BLMPOP removes items for good (an item popped by a consumer that dies is lost);
//   a Queue get leases its items to the connection until an acknowledgement event (sent on the
//   reply's arrival), so Skiff also writes an acknowledgement per batch.
// - CPU per item: each peer's process.cpuUsage() over its timed part; each server's from the
//   scheduler's per-thread counts (ns) over the same span.
// - store commits: the Skiff server's SQLite (or Postgres) commits over the timed part, from
//   its /metrics (each commit writes its pages' WAL frames: the store's main per-batch cost).
import { type ChildProcess, fork } from "node:child_process";
import { cpuMsFine } from "./lib/proc-cpu.js";
import { startRedis } from "./lib/redis.js";
import { startSkiffServer } from "./lib/skiff-server.js";

const N = Number(process.env.BENCH_N ?? 200_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 1000);
const WARM = Number(process.env.BENCH_WARM ?? 50_000);
/** Idle time between the warm-up and the timed run, alike for both systems. */
const SETTLE_MS = 200;

function peer(mode: string, target: string) {
  const p = fork(
    new URL("./lib/queue-peer.ts", import.meta.url),
    [mode, String(N), String(BATCH), target, String(WARM)],
    {
      execArgv: ["--import", "tsx", ...(process.env.BENCH_PEER_NODE_ARGS ?? "").split(" ").filter(Boolean)],
    },
  );
  const ready = new Promise<void>((r) => p.once("message", () => r()));
  const warmed = new Promise<void>((r) => p.on("message", (m) => m === "warmed" && r()));
  const done = new Promise<{ ms: number; cpuMs: number; gets: number }>((r, j) => {
    p.on("message", (m) => typeof m === "object" && m && r(m as { ms: number; cpuMs: number; gets: number }));
    p.once("exit", (code) => code !== 0 && j(new Error(`${mode} exited ${code}`)));
  });
  return { p, ready, warmed, done };
}

function exited(p: ChildProcess, ms: number): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    const t = setTimeout(() => p.kill(), ms);
    p.once("exit", () => {
      clearTimeout(t);
      r();
    });
  });
}

interface Run {
  /** Items per second. */
  rate: number;
  /** CPU per item (µs) of the server (`serverPid`), the producer and the consumer. */
  serverUs: number;
  putUs: number;
  getUs: number;
  /** Get calls the consumer made (N / BATCH at best: fewer items a get when it runs ahead). */
  gets: number;
  /** Store commits in the timed part (Skiff: its /metrics), when counted. */
  commits?: number;
}

/**
 * Starts producer and consumer together; the rate is items over the time until both are done.
 * CPU per item beside it (steadier than the rate on a shared machine): the server's from /proc
 * (its threads' scheduler counts), each peer's own process.cpuUsage(). Both peers first warm up
 * together (not timed, not counted).
 */
async function run(
  put: string,
  get: string,
  target: string,
  serverPid: number,
  commits?: () => Promise<number>,
): Promise<Run> {
  const a = peer(put, target);
  const b = peer(get, target);
  await Promise.all([a.ready, b.ready]);
  a.p.send("warm");
  b.p.send("warm");
  await Promise.all([a.warmed, b.warmed]);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const k0 = await commits?.();
  const c0 = cpuMsFine(serverPid);
  const t0 = performance.now();
  a.p.send("go");
  b.p.send("go");
  const [pa, pb] = await Promise.all([a.done, b.done]);
  const secs = (performance.now() - t0) / 1000;
  const perItem = (ms: number) => (ms * 1000) / N;
  const serverUs = perItem(cpuMsFine(serverPid) - c0);
  const k1 = await commits?.();
  // Each peer exits by itself once it has reported (writing its --cpu-prof profile, if asked);
  // one still there after 10 s is killed.
  await Promise.all([a, b].map((x) => exited(x.p, 10_000)));
  return {
    rate: N / secs,
    serverUs,
    putUs: perItem(pa.cpuMs),
    getUs: perItem(pb.cpuMs),
    gets: pb.gets,
    ...(k0 !== undefined && k1 !== undefined ? { commits: k1 - k0 } : {}),
  };
}

// The default per-partition limit (100 000) is below N: the producer may run ahead.
const server = await startSkiffServer(["--object-limits", `queueMaxItems=${Math.max(N, 100_000)}`]);
let skiff: Run;
try {
  const [tokenId, tokenSecret] = [
    (server.client as unknown as { connection: { opts: { tokenId: string } } }).connection.opts.tokenId,
    (server.client as unknown as { connection: { opts: { tokenSecret: string } } }).connection.opts.tokenSecret,
  ];
  // The store's commits, from /metrics (read after the server's CPU, so not counted in it).
  const auth = { authorization: `Bearer ${tokenId}:${tokenSecret}` };
  const commits = async () => {
    const text = await (await fetch(new URL("/metrics", server.url), { headers: auth })).text();
    return Number(/^skiff_store_commit_seconds_count(?:\{\})? (\d+)/m.exec(text)?.[1] ?? Number.NaN);
  };
  skiff = await run(
    "skiff-put",
    "skiff-get",
    JSON.stringify({ url: server.url, tokenId, tokenSecret }),
    server.proc.pid!,
    commits,
  );
} finally {
  await server.stop();
}
const port = 18379 + Math.floor(Math.random() * 1000);
const redis = await startRedis(port, ["--appendonly", "yes"]);
let r: Run;
try {
  r = await run("redis-put", "redis-get", String(port), redis.pid);
} finally {
  await redis.stop();
}
const k = (x: number) => `${(x / 1000).toFixed(1)}k items/s`;
console.log(
  `objects-queue: ${N} items, batches of ${BATCH}, producer and consumer in separate processes, after ${WARM} not timed`,
);
const total = (x: Run) => x.serverUs + x.putUs + x.getUs;
const cpu = (x: Run) =>
  `CPU per item: server ${x.serverUs.toFixed(2)} us, producer ${x.putUs.toFixed(2)} us, consumer ${x.getUs.toFixed(2)} us, total ${total(x).toFixed(2)} us; ${x.gets} gets${x.commits === undefined ? "" : `, ${x.commits} store commits`}`;
console.log(`  skiff Queue putMany/getMany   ${k(skiff.rate)}   ${cpu(skiff)}`);
console.log(`  redis LPUSH/BLMPOP (aof)      ${k(r.rate)}   ${cpu(r)}`);
console.log(`  ratio skiff/redis ${(skiff.rate / r.rate).toFixed(2)}x   (target: >= 50k items/s and >= 0.5x)`);
console.log(
  `  CPU per item ratio redis/skiff ${(total(r) / total(skiff)).toFixed(2)}x   (what sets the rate when all share the cores)`,
);
