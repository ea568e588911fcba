// Worker hosts (api.md §7a), beside the local provider, in the same run on the same machine (so
// this measures the agent's hop, not more hardware):
// - map throughput of x => x * x over BENCH_N inputs: 3 containers on the local provider vs
//   one on each of 3 `skiff worker` processes (own loopback addresses); target >= 0.8x.
// - warm `.remote` p50, local vs through a worker; target <= 1.5x.
// - a killed worker (kill -9): how long until its inputs are running again on the others, p50
//   over BENCH_ROUNDS kills; target <= 5 s.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Function_ } from "skiff";
import { type BenchServer, runCli, startSkiffServer } from "./lib/skiff-server.js";
import { summarize } from "./lib/stats.js";
import { startWorker as startWorkerProcess, waitWorkers, workerToken } from "./lib/workers.js";

const N = Number(process.env.BENCH_N ?? 50_000);
const CALLS = Number(process.env.BENCH_CALLS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);

type Sq = Function_<(x: number) => Promise<number>>;

async function measure(server: BenchServer): Promise<{ mapRate: number; p50: number }> {
  const d = await runCli(["deploy", "bench/apps/workers.ts"], server.env);
  if (d.code !== 0) throw new Error(d.out);
  const sq = await Function_.lookup<Sq>("bench-workers", "square", { client: server.client });
  console.log("  deployed; warming up");
  await sq.map(Array.from({ length: 20_000 }, (_, i) => i)).toArray(); // containers up, JIT warm
  const rounds: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    let n = 0;
    for await (const y of sq.map(Array.from({ length: N }, (_, i) => i))) {
      if (y !== n * n) throw new Error(`wrong result at ${n}`);
      n++;
    }
    rounds.push(rate(n, performance.now() - t));
  }
  const lat: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const t = performance.now();
    await sq.remote(i);
    lat.push(performance.now() - t);
  }
  return { mapRate: rounds.sort((a, b) => a - b)[1]!, p50: summarize(lat).p50 };
}

/** Worker w<i>, dialling from its own loopback address. */
function startWorker(server: BenchServer, tokenFile: string, i: number, home: string): ChildProcess {
  return startWorkerProcess(server, tokenFile, `w${i}`, join(home, `w${i}`), [
    "--local-address",
    `127.0.0.${i + 1}`,
    "--max-containers",
    process.env.BENCH_WORKER_CONTAINERS ?? "5",
  ]);
}

async function killRecovery(server: BenchServer, workers: ChildProcess[], tokenFile: string, home: string) {
  const hold = await Function_.lookup<Function_<(ms: number) => Promise<number>>>("bench-workers", "hold", {
    client: server.client,
  });
  const { functionId } = await server.client.request("function.lookup", {
    appName: "bench-workers",
    name: "hold",
    environment: "main",
  });
  const samples: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const victim = r % workers.length;
    const run = hold.map(Array.from({ length: 6 }, () => 6000)).toArray();
    // Every input running (one per container, two per worker beside square's one; the others keep
    // room for the victim's inputs, so the figure is recovery, not waiting for a free container).
    for (;;) {
      const s = await server.client.request("function.stats", { functionId });
      if (s.numActiveRunners >= 6) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    await new Promise((res) => setTimeout(res, 300));
    const killedAt = Date.now();
    workers[victim]!.kill("SIGKILL");
    const started = await run;
    // Inputs that started after the kill are the victim's, running again elsewhere.
    const again = started.filter((t) => t > killedAt).map((t) => t - killedAt);
    samples.push(...again);
    console.log(
      `  round ${r + 1}: killed w${victim + 1}; ${again.length} input(s) running again after ${again.map((x) => `${x} ms`).join(", ")}`,
    );
    workers[victim] = startWorker(server, tokenFile, victim + 1, home);
    await waitWorkers(server.client, workers.length);
  }
  return summarize(samples);
}

async function main(): Promise<void> {
  console.log(`workers: map of ${N} (x => x * x, 3 containers), ${CALLS} warm .remote, ${ROUNDS} worker kills`);
  const local = await startSkiffServer();
  let l: { mapRate: number; p50: number };
  try {
    l = await measure(local);
  } finally {
    await local.stop();
  }
  const server = await startSkiffServer(["--no-local-workers", "--host", "127.0.0.1"]);
  if (process.env.BENCH_DEBUG) server.proc.stderr!.on("data", (d: Buffer) => process.stderr.write(`[server] ${d}`));
  const home = mkdtempSync(join(tmpdir(), "skiff-bench-workers-"));
  const tokenFile = join(home, "worker.token");
  const workers: ChildProcess[] = [];
  try {
    await workerToken(server, tokenFile);
    for (let i = 1; i <= 3; i++) workers.push(startWorker(server, tokenFile, i, home));
    await waitWorkers(server.client, 3);
    const w = await measure(server);
    const k = await killRecovery(server, workers, tokenFile, home);
    console.log(
      `  map throughput: local ${l.mapRate}/s, 3 workers ${w.mapRate}/s: workers/local ${(w.mapRate / l.mapRate).toFixed(2)}x (target >= 0.8x)`,
    );
    console.log(
      `  warm .remote p50: local ${l.p50.toFixed(3)} ms, via a worker ${w.p50.toFixed(3)} ms: ${(w.p50 / l.p50).toFixed(2)}x (target <= 1.5x)`,
    );
    console.log(
      `  killed worker's inputs running again: p50 ${k.p50} ms, max ${Math.max(k.p99)} ms over ${k.n} inputs (target p50 <= 5000 ms)`,
    );
  } finally {
    for (const p of workers) p.kill("SIGTERM");
    await server.stop();
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
