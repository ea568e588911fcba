// A map over a 10-million-element async generator: completes in bounded memory. Reports the
// peak RSS of the server, the client and the largest container, beside the idle server's.
import { Function_ } from "skiff";
import { descendants, peakRssMiB } from "./lib/proc-mem.js";
import { runCli, startSkiffServer } from "./lib/skiff-server.js";

const N = Number(process.env.BENCH_N ?? 10_000_000);
const server = await startSkiffServer();
const serverPid = server.proc.pid!;
const idleServer = peakRssMiB(serverPid);
let containerPeak = 0;
const sampler = setInterval(() => {
  for (const p of descendants(serverPid)) containerPeak = Math.max(containerPeak, peakRssMiB(p));
}, 1000);
try {
  const d = await runCli(["deploy", "bench/apps/map.ts"], server.env);
  if (d.code !== 0) throw new Error(d.out);
  const sq = await Function_.lookup<Function_<(x: number) => Promise<number>>>("bench-map", "square", {
    client: server.client,
  });
  async function* inputs() {
    for (let i = 0; i < N; i++) yield i;
  }
  const t = performance.now();
  let n = 0;
  let sum = 0;
  for await (const y of sq.map(inputs(), { orderOutputs: false })) {
    n++;
    sum += y > 0 ? 1 : 0;
  }
  const secs = (performance.now() - t) / 1000;
  for (const p of descendants(serverPid)) containerPeak = Math.max(containerPeak, peakRssMiB(p));
  const serverPeak = peakRssMiB(serverPid);
  const clientPeak = process.resourceUsage().maxRSS / 1024;
  console.log(
    `map-memory: ${n} inputs from an async generator in ${secs.toFixed(0)} s (${Math.round(n / secs)} inputs/s), ${sum + 1} results`,
  );
  console.log(
    `  server peak RSS     ${serverPeak.toFixed(0)} MiB   (idle server ${idleServer.toFixed(0)} MiB; target <= 300 MB)`,
  );
  console.log(`  client peak RSS     ${clientPeak.toFixed(0)} MiB   (target <= 200 MB)`);
  console.log(`  container peak RSS  ${containerPeak.toFixed(0)} MiB (largest)`);
} finally {
  clearInterval(sampler);
  await server.stop();
}
