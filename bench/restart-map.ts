// The time a map loses to one kill -9 restart of the server (issue 18): BENCH_N inputs of
// x => x * x, once without a restart (the baseline) and once with the server killed (kill -9)
// and started again on the same data when half the outputs are in. Target: lost time ≤ the
// restart's own time (kill to listening) + 2 s. BENCH_ROUNDS pairs, medians printed.
//   BENCH_N=100000 node --import tsx bench/restart-map.ts
import { mapSquares, warmSquare, warmUp } from "./lib/map-squares.js";
import { runCli, startSkiffServer } from "./lib/skiff-server.js";

const N = Number(process.env.BENCH_N ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
let server = await startSkiffServer();
/** The first server's client: it reconnects to each restarted server on the same port. */
const client = server.client;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

try {
  const d = await runCli(["deploy", "bench/apps/map.ts"], server.env);
  if (d.code !== 0) throw new Error(d.out);
  const sq = await warmSquare("bench-map", client);

  /** One map; with `restartAt`, kill -9 and restart once that many outputs are in. */
  const run = async (restartAt?: number) => {
    let restartMs = 0;
    let restarting: Promise<void> | undefined;
    const ms = await mapSquares(sq, N, (n) => {
      if (n !== restartAt) return;
      restarting = (async () => {
        const k = performance.now();
        await server.kill();
        server = await startSkiffServer([], { reuse: server });
        server.client.close(); // the map's client (the first server's) is the one that reconnects
        restartMs = performance.now() - k;
      })();
    });
    await restarting;
    return { ms, restartMs };
  };

  const base: number[] = [];
  const withRestart: number[] = [];
  const restart: number[] = [];
  const lost: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const b = await run();
    const k = await run(Math.floor(N / 2));
    // A restart loses the containers too: the next round starts after a warm-up like the first.
    await warmUp(sq);
    base.push(b.ms);
    withRestart.push(k.ms);
    restart.push(k.restartMs);
    lost.push(k.ms - b.ms);
    console.log(
      `round ${r + 1}: ${N} inputs ${(b.ms / 1000).toFixed(2)} s without a restart, ${(k.ms / 1000).toFixed(2)} s with one kill -9 (server away ${(k.restartMs / 1000).toFixed(2)} s): lost ${((k.ms - b.ms) / 1000).toFixed(2)} s`,
    );
  }
  const l = median(lost);
  const rs = median(restart);
  console.log(
    `map of ${N} inputs, medians of ${ROUNDS}: ${(median(base) / 1000).toFixed(2)} s without a restart, ${(median(withRestart) / 1000).toFixed(2)} s with one kill -9 restart; time lost ${(l / 1000).toFixed(2)} s, restart (kill to listening) ${(rs / 1000).toFixed(2)} s; lost − restart = ${((l - rs) / 1000).toFixed(2)} s (target ≤ 2 s: ${l - rs <= 2000 ? "met" : "NOT met"})`,
  );
} finally {
  client.close();
  await server.stop();
}
