// Cold start: a function with no container, called once -> its first result. Beside the
// floor of starting a process (`node -e 0`, and the same inside bubblewrap) in the same run.
import { spawnSync } from "node:child_process";
import { bundleApp, loadApps, publishApp } from "@skiff/cli";
import type { Function_ } from "skiff";
import { startSkiffServer } from "./lib/skiff-server.js";
import { ms, summarize } from "./lib/stats.js";

const N = Number(process.env.BENCH_N ?? 30);
/**
 * BENCH_PAUSE_MS: a pause after each call (0: back to back, the default). Back to back, each
 * cold start overlaps what the one before left running (its container's exit, the warm pool's
 * refill booting, network namespaces made and removed); with ~400 ms between them each starts
 * from a settled server, as a user's first call after a quiet spell does.
 */
const PAUSE_MS = Number(process.env.BENCH_PAUSE_MS ?? 0);

/**
 * The floor's processes start as a container's node does: without this machine's NODE_*
 * settings (its NODE_EXTRA_CA_CERTS alone adds 40-60 ms of CPU to every `node -e 0` here).
 */
const CONTAINER_ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("NODE_")));

function timeProcess(cmd: string, args: string[]): number {
  const t = performance.now();
  const r = spawnSync(cmd, args, { stdio: "ignore", env: CONTAINER_ENV });
  if (r.status !== 0) throw new Error(`${cmd} failed`);
  return performance.now() - t;
}

const server = await startSkiffServer();
const cold: number[] = [];
try {
  const bundle = await bundleApp("bench/apps/trivial.ts");
  for (let i = 0; i < N; i++) {
    // A fresh ephemeral app each time: its function has no container yet.
    const [app] = await loadApps(bundle);
    const res = await publishApp(server.client, app!, bundle, "ephemeral", "main");
    const square = app!._function("square")! as unknown as Function_<(x: number) => Promise<number>>;
    const t = performance.now();
    const y = await square.remote(3);
    cold.push(performance.now() - t);
    if (y !== 9) throw new Error("wrong result");
    await server.client.request("app.stop", { appId: res.appId, environment: "main" });
    if (PAUSE_MS > 0) await new Promise((r) => setTimeout(r, PAUSE_MS));
  }
} finally {
  await server.stop();
}
const node = Array.from({ length: 10 }, () => timeProcess(process.execPath, ["-e", "0"]));
let bwrap: number[] = [];
try {
  bwrap = Array.from({ length: 10 }, () =>
    timeProcess("bwrap", [
      "--ro-bind",
      "/",
      "/",
      "--dev",
      "/dev",
      "--proc",
      "/proc",
      "--unshare-all",
      "--",
      process.execPath,
      "-e",
      "0",
    ]),
  );
} catch {}
const c = summarize(cold);
const n = summarize(node);
console.log(
  `cold-start: ${N} calls, each to a function with no container${PAUSE_MS > 0 ? `, ${PAUSE_MS} ms apart` : ", back to back"}`,
);
console.log(`  skiff cold call            p50 ${ms(c.p50)}  p99 ${ms(c.p99)}   (target: p50 <= 50 ms, issue 16)`);
console.log(`  node -e 0                  p50 ${ms(n.p50)}`);
if (bwrap.length) console.log(`  bwrap node -e 0            p50 ${ms(summarize(bwrap).p50)}`);
console.log(`  ratio skiff / node start   p50 ${(c.p50 / n.p50).toFixed(2)}x`);
