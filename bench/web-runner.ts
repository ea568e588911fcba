// CPU per web request in the container runtime's own per-request path, the generator pipeline
// (what every web request took before) beside the direct path of a webEndpoint (runner.ts
// runWeb), in one process and one build: JS only, no sockets or frames (both paths share those),
// so the figure holds on a loaded machine. Chunks of BENCH_CHUNK requests are handed to the
// runner at once (as a frame of inputs is), and the two paths alternate chunk by chunk.
//   node --import tsx bench/web-runner.ts
// The worker's build (tsc) is used: run `npx tsc -b packages/cli` first.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { encodeCbor, type InputWire, type OutputWire } from "@skiff/protocol";
import { App, type Client } from "skiff";
import { _webDirectOf } from "skiff/internal";
import { REPO } from "./lib/skiff-server.js";
import { smallWebRequest } from "./lib/web-request.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 100);
const CHUNK = Number(process.env.BENCH_CHUNK ?? 200);

const load = (file: string) => import(pathToFileURL(join(REPO, "packages/worker/dist/runtime", file)).href);
const { InputRunner } = (await load("runner.js")) as typeof import("../packages/worker/src/runtime/runner.js");
const { loadTarget } = (await load("target.js")) as typeof import("../packages/worker/src/runtime/target.js");
const { installInputContext } = (await load(
  "input-context.js",
)) as typeof import("../packages/worker/src/runtime/input-context.js");
// As in a container: user code reads its input through AsyncLocalStorage (promise hooks on).
installInputContext();

// The same endpoint as bench/apps/web.ts.
const app = new App("bench-web");
app.webEndpoint({ method: "GET", name: "ping" }, () => ({ ok: true }));
const fn = app._function("ping")!;
const target = loadTarget(app, "ping", undefined);

const wire = smallWebRequest("/");
const args = encodeCbor([wire]);

let reported = 0;
let items = 0;
let wake: (() => void) | undefined;
const report = (out: OutputWire) => {
  if (out.result.status !== "success") throw new Error(`request ${out.inputId} failed`);
  reported++;
  if (reported === CHUNK) wake?.();
};
const sendItems = (_id: string, _attempt: number, xs: unknown[]) => {
  items += xs.length;
};
const client = undefined as unknown as Client; // not used: arguments and items are inline
const common = { window: 16, maxInputs: 128, trustedItems: true };
const runners = {
  generator: new InputRunner(target, client, report, sendItems, common),
  direct: new InputRunner(target, client, report, sendItems, { ...common, webDirect: _webDirectOf(fn)! }),
};

let seq = 0;
async function chunk(runner: InstanceType<typeof InputRunner>): Promise<number> {
  reported = 0;
  const done = new Promise<void>((r) => (wake = r));
  const t = process.cpuUsage();
  for (let i = 0; i < CHUNK; i++) {
    const s = seq++;
    const w: InputWire = { inputId: `in-${s}`, callId: `fc-${s}`, attempt: 1, args, timeoutMs: 60_000, seq: s };
    runner.start(w);
  }
  if (reported < CHUNK) await done;
  const d = process.cpuUsage(t);
  return d.user + d.system;
}

const total = { generator: 0, direct: 0 };
for (let r = 0; r < ROUNDS + 10; r++) {
  const order: (keyof typeof runners)[] = r % 2 === 0 ? ["generator", "direct"] : ["direct", "generator"];
  for (const k of order) {
    const us = await chunk(runners[k]);
    if (r >= 10) total[k] += us; // the first rounds warm the JIT
  }
}
if (items !== (ROUNDS + 10) * 2 * CHUNK) throw new Error(`expected one item per request, got ${items}`);
const per = (k: keyof typeof total) => total[k] / (ROUNDS * CHUNK);
console.log(
  `web-runner: ${ROUNDS} alternating rounds of ${CHUNK} requests, CPU µs per request in the runtime's own path`,
);
console.log(
  `  generator pipeline ${per("generator").toFixed(2)}   direct (runWeb) ${per("direct").toFixed(2)}   direct/generator ${(per("direct") / per("generator")).toFixed(2)}x`,
);
