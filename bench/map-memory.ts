// A map over a 10-million-element async generator: completes in bounded memory. Reports the
// peak RSS of the server, the client (a plain Node process) and the largest container, beside
// the idle server's.
import { execFileSync } from "node:child_process";
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
  // The client is a plain Node process: its peak RSS is the SDK's, without a TypeScript loader.
  const out = execFileSync(
    process.execPath,
    [new URL("./lib/map-memory-client.mjs", import.meta.url).pathname, String(N)],
    {
      env: server.env,
      encoding: "utf8",
      maxBuffer: 1 << 20,
    },
  );
  const r = JSON.parse(out.trim().split("\n").pop()!) as {
    n: number;
    positive: number;
    secs: number;
    maxRssMiB: number;
  };
  const [n, secs, sum, clientPeak] = [r.n, r.secs, r.positive, r.maxRssMiB];
  for (const p of descendants(serverPid)) containerPeak = Math.max(containerPeak, peakRssMiB(p));
  const serverPeak = peakRssMiB(serverPid);
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
