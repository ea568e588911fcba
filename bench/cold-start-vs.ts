// Cold start beside another checkout's server (BENCH_BASELINE=/path/to/checkout, built), in the
// same run: calls alternate between the two servers, one cold call each in turn, so both see
// the same load (on a shared machine the load swings more between runs than the change does).
// Prints each side's p50/p99 and the ratio of p50s, and the median of the paired ratios.
import { join } from "node:path";
import { bundleApp, loadApps, publishApp } from "@skiff/cli";
import type { Function_ } from "skiff";
import { type BenchServer, startSkiffServer } from "./lib/skiff-server.js";
import { ms, summarize } from "./lib/stats.js";

const N = Number(process.env.BENCH_N ?? 40);
const baseline = process.env.BENCH_BASELINE;
if (!baseline) {
  console.error("BENCH_BASELINE=/path/to/a/built/checkout (e.g. main's) is required");
  process.exit(2);
}

async function coldCall(server: BenchServer, bundle: Awaited<ReturnType<typeof bundleApp>>): Promise<number> {
  // A fresh ephemeral app each time: its function has no container yet.
  const [app] = await loadApps(bundle);
  const res = await publishApp(server.client, app!, bundle, "ephemeral", "main");
  const square = app!._function("square")! as unknown as Function_<(x: number) => Promise<number>>;
  const t = performance.now();
  const y = await square.remote(3);
  const took = performance.now() - t;
  if (y !== 9) throw new Error("wrong result");
  await server.client.request("app.stop", { appId: res.appId, environment: "main" });
  return took;
}

const ours = await startSkiffServer();
const base = await startSkiffServer([], { bin: join(baseline, "packages/cli/bin/skiff.js") });
const a: number[] = [];
const b: number[] = [];
try {
  const bundle = await bundleApp("bench/apps/trivial.ts");
  // One unmeasured call each (pools filled, first-time costs paid).
  await coldCall(ours, bundle);
  await coldCall(base, bundle);
  for (let i = 0; i < N; i++) {
    // Alternate which goes first, so neither always follows the other's teardown.
    if (i % 2 === 0) {
      b.push(await coldCall(base, bundle));
      a.push(await coldCall(ours, bundle));
    } else {
      a.push(await coldCall(ours, bundle));
      b.push(await coldCall(base, bundle));
    }
  }
} finally {
  await ours.stop();
  await base.stop();
}
const sa = summarize(a);
const sb = summarize(b);
const paired = summarize(a.map((x, i) => x / b[i]!));
console.log(`cold-start-vs: ${N} cold calls each, alternating with the baseline at ${baseline}`);
console.log(`  this checkout              p50 ${ms(sa.p50)}  p99 ${ms(sa.p99)}`);
console.log(`  baseline                   p50 ${ms(sb.p50)}  p99 ${ms(sb.p99)}`);
console.log(
  `  ratio of p50s              ${(sa.p50 / sb.p50).toFixed(2)}x   median paired ratio ${paired.p50.toFixed(2)}x`,
);
