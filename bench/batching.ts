// Dynamic batching: 1 000 concurrent `.remote()` callers of a function whose body costs 2 ms
// per call plus 10 µs per item, batched (maxBatchSize 500, waitMs 5) beside the same body
// unbatched, both on at most 2 containers, in the same run. Reports throughput, latency and
// the batch sizes reached. Target: batched >= 10x the unbatched throughput.
import { Function_ } from "skiff";
import { runCli, startSkiffServer } from "./lib/skiff-server.js";
import { ms, percentile, summarize } from "./lib/stats.js";

const CALLERS = Number(process.env.BENCH_CALLERS ?? 1000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);

type Out = { y: number; batch: number };

/** CALLERS loops, each calling `.remote()` back to back for SECONDS. */
async function drive(fn: Function_<(x: number) => Promise<Out>>) {
  const latencies: number[] = [];
  const batches: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CALLERS }, async (_, c) => {
      for (let i = 0; performance.now() < end; i++) {
        const x = c * 1_000_000 + i;
        const t = performance.now();
        const r = await fn.remote(x);
        latencies.push(performance.now() - t);
        if (r.y !== x * 2) throw new Error("wrong result");
        batches.push(r.batch);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const sizes = [...batches].sort((a, b) => a - b);
  return {
    perSec: latencies.length / secs,
    lat: summarize(latencies),
    batchP50: percentile(sizes, 50),
    batchMax: sizes[sizes.length - 1] ?? 0,
    // Weighted by input: the batch an average input rode in.
    batchMean: batches.reduce((a, b) => a + b, 0) / Math.max(1, batches.length),
  };
}

const server = await startSkiffServer();
try {
  const d = await runCli(["deploy", "bench/apps/batching.ts"], server.env);
  if (d.code !== 0) throw new Error(d.out);
  const look = (name: string) =>
    Function_.lookup<Function_<(x: number) => Promise<Out>>>("bench-batching", name, { client: server.client });
  const batched = await look("batched");
  const single = await look("single");
  // Warm both pools (containers started, code loaded).
  await Promise.all(Array.from({ length: 50 }, (_, i) => batched.remote(i)));
  await Promise.all(Array.from({ length: 50 }, (_, i) => single.remote(i)));
  const u = await drive(single);
  const b = await drive(batched);
  console.log(
    `batching: ${CALLERS} concurrent .remote() callers for ${SECONDS}s each; body 2 ms + 10 µs/item; 2 containers`,
  );
  console.log(
    `  unbatched           ${u.perSec.toFixed(0).padStart(7)} calls/s  p50 ${ms(u.lat.p50)}  p99 ${ms(u.lat.p99)}`,
  );
  console.log(
    `  batched (500, 5 ms) ${b.perSec.toFixed(0).padStart(7)} calls/s  p50 ${ms(b.lat.p50)}  p99 ${ms(b.lat.p99)}  batch size per input: p50 ${b.batchP50}, mean ${b.batchMean.toFixed(0)}, max ${b.batchMax}`,
  );
  console.log(`  ratio batched/unbatched ${(b.perSec / u.perSec).toFixed(1)}x throughput   (target: >= 10x)`);
} finally {
  await server.stop();
}
