// The control plane on SQLite and on Postgres, in the same run: durable `.spawn` throughput
// (acknowledged = committed), warm `.remote` p50, and `map` throughput; Postgres/SQLite ratios.
// Postgres is a private local cluster with default settings (synchronous_commit on), started
// and removed here (test/helpers/postgres.ts).
import { Function_ } from "skiff";
import { destroyCluster, initCluster } from "../test/helpers/postgres.js";
import { runCli, startSkiffServer } from "./lib/skiff-server.js";
import { summarize } from "./lib/stats.js";

const SPAWNS = Number(process.env.BENCH_SPAWN_N ?? 20_000);
const REMOTE_N = Number(process.env.BENCH_LATENCY_N ?? 1000);
const MAP_N = Number(process.env.BENCH_MAP_N ?? 50_000);

type Square = Function_<(x: number) => Promise<number>>;

async function measure(args: string[]) {
  const server = await startSkiffServer(args);
  try {
    for (const app of ["bench/apps/trivial.ts", "bench/apps/map.ts"]) {
      const d = await runCli(["deploy", app], server.env);
      if (d.code !== 0) throw new Error(d.out);
    }
    const client = server.client;
    const square = await Function_.lookup<Square>("bench", "square", { client });
    const mapSquare = await Function_.lookup<Square>("bench-map", "square", { client });
    for (let i = 0; i < 300; i++) await square.remote(i);
    const samples: number[] = [];
    for (let i = 0; i < REMOTE_N; i++) {
      const t = performance.now();
      await square.remote(i);
      samples.push(performance.now() - t);
    }
    const remote = summarize(samples);
    await mapSquare.map(Array.from({ length: 5000 }, (_, i) => i)).toArray(); // containers up
    let t = performance.now();
    let sum = 0;
    for await (const y of mapSquare.map(Array.from({ length: MAP_N }, (_, i) => i))) sum += y;
    const mapRate = MAP_N / ((performance.now() - t) / 1000);
    if (sum <= 0) throw new Error("wrong map result");
    // Durable spawns: each is acknowledged only after the commit that holds it.
    t = performance.now();
    for (let i = 0; i < SPAWNS; i += 2000)
      await Promise.all(Array.from({ length: Math.min(2000, SPAWNS - i) }, (_, j) => square.spawn(i + j)));
    const spawnRate = SPAWNS / ((performance.now() - t) / 1000);
    return { spawnRate, remote, mapRate };
  } finally {
    await server.stop();
  }
}

const cluster = await initCluster();
try {
  const url = `postgres://skiff:${encodeURIComponent(cluster.password)}@127.0.0.1:${cluster.port}/postgres`;
  const sqlite = await measure([]);
  const postgres = await measure(["--store", url]);
  const f = (x: number) => x.toFixed(0).padStart(7);
  console.log(`store-compare: ${SPAWNS} durable spawns, ${REMOTE_N} warm .remote, a ${MAP_N}-input map`);
  console.log("                       sqlite   postgres   postgres/sqlite");
  const row = (name: string, a: number, b: number, target: string) =>
    console.log(`  ${name.padEnd(20)}${f(a)}   ${f(b)}      ${(b / a).toFixed(2)}x   (${target})`);
  row("durable spawns/s", sqlite.spawnRate, postgres.spawnRate, "target: postgres >= 5000/s");
  row("map inputs/s", sqlite.mapRate, postgres.mapRate, "target: ratio >= 0.8");
  console.log(
    `  .remote p50 (ms)      ${sqlite.remote.p50.toFixed(3)}      ${postgres.remote.p50.toFixed(3)}      ${(postgres.remote.p50 / sqlite.remote.p50).toFixed(2)}x   (target: ratio <= 1.5)`,
  );
  console.log(`  .remote p99 (ms)      ${sqlite.remote.p99.toFixed(3)}     ${postgres.remote.p99.toFixed(3)}`);
} finally {
  destroyCluster(cluster);
}
