// Queue throughput with putMany/getMany of small items, producer and consumer in separate
// processes, beside Redis LPUSH / BLMPOP (batched the same way) through ioredis, same run.
// Redis runs with appendonly yes (a put acknowledged survives a kill -9, as a Queue put does).
import { fork } from "node:child_process";
import { startRedis } from "./lib/redis.js";
import { startSkiffServer } from "./lib/skiff-server.js";

const N = Number(process.env.BENCH_N ?? 200_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 1000);

function peer(mode: string, target: string) {
  const p = fork(new URL("./lib/queue-peer.ts", import.meta.url), [mode, String(N), String(BATCH), target], {
    execArgv: ["--import", "tsx"],
  });
  const ready = new Promise<void>((r) => p.once("message", () => r()));
  const done = new Promise<number>((r, j) => {
    p.on("message", (m) => typeof m === "object" && m && r((m as { ms: number }).ms));
    p.once("exit", (code) => code !== 0 && j(new Error(`${mode} exited ${code}`)));
  });
  return { p, ready, done };
}

/** Starts producer and consumer together; the rate is items over the time until both are done. */
async function run(put: string, get: string, target: string): Promise<number> {
  const a = peer(put, target);
  const b = peer(get, target);
  await Promise.all([a.ready, b.ready]);
  const t0 = performance.now();
  a.p.send("go");
  b.p.send("go");
  await Promise.all([a.done, b.done]);
  const secs = (performance.now() - t0) / 1000;
  a.p.kill();
  b.p.kill();
  return N / secs;
}

// The default per-partition limit (100 000) is below N: the producer may run ahead.
const server = await startSkiffServer(["--object-limits", `queueMaxItems=${Math.max(N, 100_000)}`]);
let skiff: number;
try {
  const [tokenId, tokenSecret] = [
    (server.client as unknown as { connection: { opts: { tokenId: string } } }).connection.opts.tokenId,
    (server.client as unknown as { connection: { opts: { tokenSecret: string } } }).connection.opts.tokenSecret,
  ];
  skiff = await run("skiff-put", "skiff-get", JSON.stringify({ url: server.url, tokenId, tokenSecret }));
} finally {
  await server.stop();
}
const port = 18379 + Math.floor(Math.random() * 1000);
const redis = await startRedis(port, ["--appendonly", "yes"]);
let r: number;
try {
  r = await run("redis-put", "redis-get", String(port));
} finally {
  await redis.stop();
}
const k = (x: number) => `${(x / 1000).toFixed(1)}k items/s`;
console.log(`objects-queue: ${N} items, batches of ${BATCH}, producer and consumer in separate processes`);
console.log(`  skiff Queue putMany/getMany   ${k(skiff)}`);
console.log(`  redis LPUSH/BLMPOP (aof)      ${k(r)}`);
console.log(`  ratio skiff/redis ${(skiff / r).toFixed(2)}x   (target: >= 50k items/s and >= 0.5x)`);
