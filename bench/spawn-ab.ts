// Durable `.spawn` throughput and warm `.remote` p50 of this checkout beside another one (a
// baseline: BENCH_BASELINE=/path/to/checkout, built), on the same store, alternating runs so a
// busy machine's load falls on both alike. BENCH_STORE=postgres (default: a private cluster,
// a fresh database per run) or sqlite.
//   BENCH_BASELINE=/work/main node --import tsx bench/spawn-ab.ts
import { join } from "node:path";
import { Function_ } from "skiff";
import { postgres } from "../test/helpers/postgres.js";
import { REPO, runCli, startSkiffServer } from "./lib/skiff-server.js";
import { summarize } from "./lib/stats.js";

const SPAWNS = Number(process.env.BENCH_SPAWN_N ?? 6000);
const REMOTE_N = Number(process.env.BENCH_LATENCY_N ?? 300);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const baseline = process.env.BENCH_BASELINE;
if (!baseline) throw new Error("set BENCH_BASELINE to the checkout to compare with");
const onPostgres = (process.env.BENCH_STORE ?? "postgres") === "postgres";

type Square = Function_<(x: number) => Promise<number>>;

async function measure(checkout: string, storeArgs: string[]) {
  const server = await startSkiffServer(storeArgs, { bin: join(checkout, "packages/cli/bin/skiff.js") });
  try {
    const d = await runCli(["deploy", "bench/apps/trivial.ts"], server.env);
    if (d.code !== 0) throw new Error(d.out);
    const square = await Function_.lookup<Square>("bench", "square", { client: server.client });
    for (let i = 0; i < 300; i++) await square.remote(i);
    const samples: number[] = [];
    for (let i = 0; i < REMOTE_N; i++) {
      const t = performance.now();
      await square.remote(i);
      samples.push(performance.now() - t);
    }
    const t = performance.now();
    for (let i = 0; i < SPAWNS; i += 2000)
      await Promise.all(Array.from({ length: Math.min(2000, SPAWNS - i) }, (_, j) => square.spawn(i + j)));
    return { spawnRate: SPAWNS / ((performance.now() - t) / 1000), p50: summarize(samples).p50 };
  } finally {
    await server.stop();
  }
}

// A private cluster, removed when this process ends.
const cluster = onPostgres ? await postgres() : undefined;
{
  const rows: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, checkout] of [
      ["baseline", baseline],
      ["this", REPO],
    ] as const) {
      const storeArgs = cluster ? ["--store", await cluster.createDatabase("ab")] : [];
      const r = await measure(checkout, storeArgs);
      rows.push(
        `  round ${round + 1} ${name.padEnd(9)} ${r.spawnRate.toFixed(0).padStart(6)} spawns/s   .remote p50 ${r.p50.toFixed(3)} ms`,
      );
      console.log(rows.at(-1));
    }
  }
  console.log(
    `spawn-ab on ${onPostgres ? "postgres" : "sqlite"}: ${SPAWNS} durable spawns, ${REMOTE_N} .remote; baseline ${baseline}`,
  );
}
process.exit(0);
