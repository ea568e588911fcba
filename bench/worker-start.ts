// A container start on a worker host (api.md §7a): BENCH_N cold calls, one after another, each
// to a fresh ephemeral app's function, on a control plane with no local containers and one
// `skiff worker`. Per call: zero to result (wall), and the container's CPU from its process
// start to its bundle loaded (runtime, its connection through the worker's relay, the bundle;
// a runtime from the worker's warm pool counts its idle warm-up too). For A/B with bench/ab.ts:
// the baseline's server and worker run, this checkout's client and app.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleApp, loadApps, publishApp } from "@skiff/cli";
import type { Function_ } from "skiff";
import { startSkiffServer } from "./lib/skiff-server.js";
import { ms, summarize } from "./lib/stats.js";
import { startWorker, waitWorkers, workerToken } from "./lib/workers.js";

const N = Number(process.env.BENCH_N ?? 20);
interface Info {
  id: string;
  cpuMsAtLoad: number;
}

const server = await startSkiffServer(["--no-local-workers", "--host", "127.0.0.1"]);
const home = mkdtempSync(join(tmpdir(), "skiff-bench-wstart-"));
const tokenFile = join(home, "worker.token");
await workerToken(server, tokenFile);
const worker = startWorker(server, tokenFile, "w1", join(home, "w1"));
const wall: number[] = [];
const cpu: number[] = [];
try {
  await waitWorkers(server.client, 1);
  const bundle = await bundleApp("bench/apps/fanout.ts");
  for (let i = 0; i < N + 2; i++) {
    const [app] = await loadApps(bundle);
    const res = await publishApp(server.client, app!, bundle, "ephemeral", "main");
    const f = app!._function("sleep10ms")! as unknown as Function_<() => Promise<Info>>;
    const t0 = performance.now();
    const info = await f.remote();
    // The first two warm the worker's bundle cache and JIT; then each is a fresh container.
    if (i >= 2) {
      wall.push(performance.now() - t0 - 10);
      cpu.push(info.cpuMsAtLoad);
    }
    await server.client.request("app.stop", { appId: res.appId, environment: "main" });
  }
} finally {
  worker.kill("SIGTERM");
  await server.stop();
  rmSync(home, { recursive: true, force: true });
}
const w = summarize(wall);
const c = summarize(cpu);
console.log(`worker-start: ${N} cold calls, one after another, each a fresh container on a worker`);
console.log(`  zero to result (less the function's 10 ms)   p50 ${ms(w.p50)}  max ${ms(w.p99)}`);
console.log(`  container CPU, process start to bundle loaded  p50 ${c.p50.toFixed(1)} ms  max ${c.p99.toFixed(1)} ms`);
