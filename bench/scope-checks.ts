// CPU cost of issue 15's per-message checks on the hot path, per message, in one process:
// the walk for blob references in what a container sends (`outputs` events, call.create from
// a container) and a blob.get's grant lookup. Wall-clock `.remote` A/B on a loaded machine
// cannot resolve a few hundred nanoseconds; this can.
import { BlobGrants, ungrantedBlob } from "../packages/server/src/auth/blob-grants.js";

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

function time(label: string, fn: () => unknown): void {
  for (let i = 0; i < N / 10; i++) fn(); // warm-up
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn();
  const ns = Number(process.hrtime.bigint() - t) / N;
  console.log(`  ${label.padEnd(44)} ${ns.toFixed(1)} ns`);
}

console.log(`scope-checks: ${N} runs each`);
time("ungrantedBlob(outputs of one inline result)", () => ungrantedBlob(grants, outputs));
time("ungrantedBlob(call.create, inline args)", () => ungrantedBlob(grants, callCreate));
time("BlobGrants.has (blob.get)", () => grants.has("bl-00ff"));
const ids = Array.from({ length: 8192 }, (_, i) => `bl-${i.toString(16).padStart(64, "0")}`);
let next = 0;
// Half of them new (each evicting the oldest), half refreshed.
time("BlobGrants.add (a blob reference sent)", () => grants.add(ids[next++ & 8191]!));
