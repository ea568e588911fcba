// Fan-out throughput: `map` over N inputs of x => x * x (maxContainers 2), beside BullMQ
// (addBulk + Worker concurrency 50 on a local Redis), Dask distributed (client.map + gather,
// 2 worker processes; skipped when python3-distributed is not installed) and the in-host
// ceiling (piscina, 2 threads, batched tasks), all in the same run. Skiff's figure is the
// median of BENCH_ROUNDS rounds after a 20k-input warm-up (every round is printed).
import { execFileSync, fork } from "node:child_process";
import { Queue } from "bullmq";
import { Piscina } from "piscina";
import { Function_ } from "skiff";
import { startRedis } from "./lib/redis.js";
import { runCli, startSkiffServer } from "./lib/skiff-server.js";

const N = Number(process.env.BENCH_N ?? 100_000);
/** Skiff rounds of N after a warm-up; the median is reported (the other rounds are printed). */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
let skiffRounds: number[] = [];
const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);

async function skiff(): Promise<number> {
  const server = await startSkiffServer();
  try {
    const d = await runCli(["deploy", "bench/apps/map.ts"], server.env);
    if (d.code !== 0) throw new Error(d.out);
    const sq = await Function_.lookup<Function_<(x: number) => Promise<number>>>("bench-map", "square", {
      client: server.client,
    });
    // Containers up and JIT-warm, as a deployed function's are after its first calls.
    await sq.map(Array.from({ length: 20_000 }, (_, i) => i)).toArray();
    function* inputs() {
      for (let i = 0; i < N; i++) yield i;
    }
    const rounds: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const t = performance.now();
      let n = 0;
      for await (const y of sq.map(inputs())) {
        if (y !== n * n) throw new Error(`wrong result at ${n}`);
        n++;
      }
      rounds.push(rate(n, performance.now() - t));
    }
    skiffRounds = rounds;
    return [...rounds].sort((a, b) => a - b)[Math.floor(rounds.length / 2)]!;
  } finally {
    await server.stop();
  }
}

async function bullmq(): Promise<number> {
  const port = 17379 + Math.floor(Math.random() * 1000);
  const redis = await startRedis(port);
  const worker = fork(new URL("./lib/bullmq-bulk-worker.ts", import.meta.url), [String(port), "50", String(N)], {
    execArgv: ["--import", "tsx"],
  });
  try {
    await new Promise<void>((r) => worker.once("message", () => r()));
    const queue = new Queue("bench-bulk", { connection: { host: "127.0.0.1", port } });
    const done = new Promise<void>((r) => worker.once("message", () => r()));
    const t = performance.now();
    for (let i = 0; i < N; i += 1000) {
      await queue.addBulk(
        Array.from({ length: Math.min(1000, N - i) }, (_, j) => ({
          name: "sq",
          data: { x: i + j },
          opts: { removeOnComplete: true },
        })),
      );
    }
    await done;
    const r = rate(N, performance.now() - t);
    await queue.close();
    return r;
  } finally {
    worker.kill("SIGTERM");
    await redis.stop();
  }
}

function dask(): number | undefined {
  try {
    execFileSync("/usr/bin/python3", ["-c", "import dask.distributed"], { stdio: "ignore" });
  } catch {
    return undefined;
  }
  const n = Math.min(N, 20_000); // ~600 tasks/s: keep the run short
  const out = execFileSync("/usr/bin/python3", [new URL("./lib/dask-map.py", import.meta.url).pathname, String(n)], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  return Number(out.trim().split("\n").pop());
}

async function piscina(): Promise<number> {
  const pool = new Piscina({
    filename: new URL("./lib/piscina-square.mjs", import.meta.url).href,
    minThreads: 2,
    maxThreads: 2,
  });
  const t = performance.now();
  const batches: Promise<number[]>[] = [];
  for (let i = 0; i < N; i += 1000)
    batches.push(pool.run(Array.from({ length: Math.min(1000, N - i) }, (_, j) => i + j)));
  await Promise.all(batches);
  const r = rate(N, performance.now() - t);
  await pool.destroy();
  return r;
}

const s = await skiff();
const b = await bullmq();
const d = dask();
const p = await piscina();
console.log(`map-throughput: ${N} inputs of x => x * x`);
console.log(
  `  skiff map (2 containers, 128 inputs each)  ${s} inputs/s   (median of ${skiffRounds.join(", ")}; target: >= 100000)`,
);
console.log(`  bullmq addBulk + Worker(concurrency 50)    ${b} jobs/s     skiff/bullmq ${(s / b).toFixed(2)}x`);
if (d !== undefined)
  console.log(`  dask client.map + gather (2 workers)       ${d} tasks/s    skiff/dask ${(s / d).toFixed(1)}x`);
else console.log("  dask                                       skipped (python3-distributed not installed)");
console.log(
  `  piscina, 2 threads, batches of 1000        ${p} items/s    skiff/piscina ${(s / p).toFixed(3)}x (in-host ceiling)`,
);
