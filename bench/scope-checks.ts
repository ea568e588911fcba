// CPU cost of issue 15's per-message checks on the hot path, per message, in one process:
// the walk for blob references in what a container or scoped token sends (`outputs` events,
// call.create from a container), a blob.get's grant lookup, and the environment check of a
// container's call.create and call.get (api/container-rules.ts). Wall-clock `.remote` A/B on a loaded machine
// cannot resolve a few hundred nanoseconds; this can.
import { CONTAINER_RULES } from "../packages/server/src/api/container-rules.js";
import type { HandlerDeps } from "../packages/server/src/api/handlers.js";
import { BlobGrants, ungrantedBlob } from "../packages/server/src/auth/blob-grants.js";
import type { Principal } from "../packages/server/src/auth/tokens.js";

const N = Number(process.env.BENCH_N ?? 1_000_000);
const grants = new BlobGrants();
for (let i = 0; i < 4096; i++) grants.add(`bl-${i.toString(16).padStart(64, "0")}`);
const outputs = {
  items: [{ inputId: "in-abc123", attempt: 1, result: { status: "success", data: new Uint8Array(64) } }],
};
const callCreate = {
  functionId: "fu-1",
  kind: "remote",
  args: new Uint8Array(32),
  idempotencyKey: "ik-1",
  await: true,
};

/** CPU ns per run, best of 5 rounds of N (CPU time: a loaded machine distorts it much less than wall time). */
function time(label: string, fn: () => unknown): void {
  for (let i = 0; i < N / 10; i++) fn(); // warm-up
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    const c = process.cpuUsage();
    for (let i = 0; i < N; i++) fn();
    const d = process.cpuUsage(c);
    best = Math.min(best, ((d.user + d.system) * 1000) / N);
  }
  console.log(`  ${label.padEnd(46)} ${best.toFixed(1)} ns CPU`);
}

console.log(`scope-checks: ${N} runs each`);
time("ungrantedBlob(outputs of one inline result)", () => ungrantedBlob(grants, outputs));
time("ungrantedBlob(call.create, inline args)", () => ungrantedBlob(grants, callCreate));
time("BlobGrants.has (blob.get)", () => grants.has("bl-00ff"));
const ids = Array.from({ length: 8192 }, (_, i) => `bl-${i.toString(16).padStart(64, "0")}`);
let next = 0;
// Half of them new (each evicting the oldest), half refreshed.
time("BlobGrants.add (a blob reference sent)", () => grants.add(ids[next++ & 8191]!));

// A container of environment "main" calling a loaded function of "main": what the check reads.
const fn = { id: "fu-1", appName: "a", name: "f", environment: "main" };
const functions = new Map([["fu-1", fn]]);
const calls = new Map([["fc-1", fn]]);
const containers = new Map([["co-1", { id: "co-1", fn }]]);
const deps = {
  engine: {
    container: (id: string) => containers.get(id),
    functionView: (id: string) => functions.get(id),
    callFunction: async (id: string) => calls.get(id),
  },
} as unknown as HandlerDeps;
const container: Principal = { kind: "container", tokenId: "ct-co-1", containerId: "co-1" };
const callCreateRule = CONTAINER_RULES["call.create"];
time("container rule: call.create (function loaded)", () => callCreateRule(container, callCreate, deps));
const callGetRule = CONTAINER_RULES["call.get"];
// Awaited one at a time, as a container's call.get is (the handler awaits the outcome anyway).
let best = Number.POSITIVE_INFINITY;
for (let round = 0; round < 5; round++) {
  const c = process.cpuUsage();
  for (let i = 0; i < N; i++) await callGetRule(container, { callId: "fc-1" }, deps);
  const d = process.cpuUsage(c);
  best = Math.min(best, ((d.user + d.system) * 1000) / N);
}
console.log(`  ${"container rule: call.get (live call, awaited)".padEnd(46)} ${best.toFixed(1)} ns CPU`);
