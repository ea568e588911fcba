// The control plane on SQLite and on Postgres, in the same run: durable `.spawn` throughput
// (acknowledged = committed; the spawned calls then run, and their later writes share the
// store with the next spawns), warm `.remote` p50, and `map` throughput; Postgres/SQLite
// ratios. Postgres is a private local cluster with default settings (synchronous_commit on),
// started and removed here (test/helpers/postgres.ts), a fresh database per server.
//
// Before/after: BENCH_BASELINE=/path/to/another/checkout (built) also runs that checkout's
// server on the same store (BENCH_AB_STORE=postgres, the default, or sqlite), alternating with
// this one BENCH_ROUNDS times so that a busy machine's load falls on both alike:
//   BENCH_BASELINE=/work/main node --import tsx bench/store-compare.ts
import { join } from "node:path";
import { Function_ } from "skiff";
import { postgres } from "../test/helpers/postgres.js";
import { REPO, runCli, startSkiffServer } from "./lib/skiff-server.js";
import { summarize } from "./lib/stats.js";

const SPAWNS = Number(process.env.BENCH_SPAWN_N ?? 20_000);
const REMOTE_N = Number(process.env.BENCH_LATENCY_N ?? 1000);
const MAP_N = Number(process.env.BENCH_MAP_N ?? 50_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const baseline = process.env.BENCH_BASELINE;
const abOnPostgres = (process.env.BENCH_AB_STORE ?? "postgres") === "postgres";

type Square = Function_<(x: number) => Promise<number>>;

async function measure(checkout: string, storeArgs: string[], withMap: boolean) {
  const server = await startSkiffServer(storeArgs, { bin: join(checkout, "packages/cli/bin/skiff.js") });
  try {
    for (const app of withMap ? ["bench/apps/trivial.ts", "bench/apps/map.ts"] : ["bench/apps/trivial.ts"]) {
      const d = await runCli(["deploy", app], server.env);
      if (d.code !== 0) throw new Error(d.out);
    }
    const client = server.client;
    const square = await Function_.lookup<Square>("bench", "square", { client });
    for (let i = 0; i < 300; i++) await square.remote(i);
    const samples: number[] = [];
    for (let i = 0; i < REMOTE_N; i++) {
      const t = performance.now();
      await square.remote(i);
      samples.push(performance.now() - t);
    }
    const remote = summarize(samples);
    let mapRate = Number.NaN;
    if (withMap) {
      const mapSquare = await Function_.lookup<Square>("bench-map", "square", { client });
      await mapSquare.map(Array.from({ length: 5000 }, (_, i) => i)).toArray(); // containers up
      const t = performance.now();
      let sum = 0;
      for await (const y of mapSquare.map(Array.from({ length: MAP_N }, (_, i) => i))) sum += y;
      mapRate = MAP_N / ((performance.now() - t) / 1000);
      if (sum <= 0) throw new Error("wrong map result");
    }
    // Durable spawns: each is acknowledged only after the commit that holds it.
    const t = performance.now();
    for (let i = 0; i < SPAWNS; i += 2000)
      await Promise.all(Array.from({ length: Math.min(2000, SPAWNS - i) }, (_, j) => square.spawn(i + j)));
    const spawnRate = SPAWNS / ((performance.now() - t) / 1000);
    return { spawnRate, remote, mapRate };
  } finally {
    await server.stop();
  }
}

// A private cluster, removed when this process ends.
const cluster = await postgres();
const pgArgs = async () => ["--store", await cluster.createDatabase("bench")];
const f = (x: number) => x.toFixed(0).padStart(7);

const sqlite = await measure(REPO, [], true);
const pgRun = await measure(REPO, await pgArgs(), true);
console.log(`store-compare: ${SPAWNS} durable spawns, ${REMOTE_N} warm .remote, a ${MAP_N}-input map`);
console.log("                       sqlite   postgres   postgres/sqlite");
const row = (name: string, a: number, b: number, target: string) =>
  console.log(`  ${name.padEnd(20)}${f(a)}   ${f(b)}      ${(b / a).toFixed(2)}x   (${target})`);
row("durable spawns/s", sqlite.spawnRate, pgRun.spawnRate, "target: postgres >= 5000/s");
row("map inputs/s", sqlite.mapRate, pgRun.mapRate, "target: ratio >= 0.8");
console.log(
  `  .remote p50 (ms)      ${sqlite.remote.p50.toFixed(3)}      ${pgRun.remote.p50.toFixed(3)}      ${(pgRun.remote.p50 / sqlite.remote.p50).toFixed(2)}x   (target: ratio <= 1.5)`,
);
console.log(`  .remote p99 (ms)      ${sqlite.remote.p99.toFixed(3)}     ${pgRun.remote.p99.toFixed(3)}`);

if (baseline) {
  const store = abOnPostgres ? "postgres" : "sqlite";
  console.log(`before/after on ${store}: baseline ${baseline} against this checkout, alternated`);
  const rates: Record<string, number[]> = { baseline: [], this: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, checkout] of [
      ["baseline", baseline],
      ["this", REPO],
    ] as const) {
      const r = await measure(checkout, abOnPostgres ? await pgArgs() : [], false);
      rates[name]!.push(r.spawnRate);
      console.log(
        `  round ${round + 1} ${name.padEnd(9)} ${f(r.spawnRate)} durable spawns/s   .remote p50 ${r.remote.p50.toFixed(3)} ms`,
      );
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`  this/baseline spawns/s: ${(mean(rates.this!) / mean(rates.baseline!)).toFixed(2)}x (means)`);
}
process.exit(0);
