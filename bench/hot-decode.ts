// CPU per frame to decode the four hot frames of a warm `.remote` (call, inputs, outputs,
// outcome; what each side reads per call), through the codec and fromHot (as before) and
// through the direct reader (hot-decode.ts) then fromHot, alternating in one process: JS only,
// so the ratio holds on a loaded machine. Frames are fresh Buffers, as ws hands them over.
//   node --import tsx bench/hot-decode.ts

import { fromHot } from "../packages/protocol/src/hot.js";
import { decodeHotFrame } from "../packages/protocol/src/hot-decode.js";
import { decodeCbor, encodeCbor, encodeFrames, type Message, newId } from "../packages/protocol/src/index.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const PER = Number(process.env.BENCH_PER ?? 20_000);

const args = encodeCbor([7]);
const callId = newId("fc");
const frames: [string, Buffer][] = (
  [
    [
      "call",
      {
        t: "call.create",
        id: 12345,
        p: { functionId: newId("fu"), kind: "remote", args, idempotencyKey: newId("ik"), await: true },
      },
    ],
    [
      "inputs",
      {
        t: "inputs.cols",
        b: {
          groups: [{ callId, timeoutMs: 300_000, seq0: 4321, inputIds: [newId("in")], attempts: [1], args: [args] }],
        },
      },
    ],
    ["outputs", { t: "outputs.cols", b: { seqs: [4321], data: [encodeCbor(49)], durationsMs: [0.0213] } }],
    ["outcome", [2, 12345, callId, encodeCbor(49)]],
  ] as [string, Message][]
).map(([name, m]) => [name, Buffer.from(encodeFrames([m], true)[0]!)]);

function viaCodec(b: Uint8Array): unknown {
  const d = decodeCbor(b) as unknown[];
  for (let i = 0; i < d.length; i++) d[i] = fromHot(d[i] as unknown[]);
  return d;
}
function direct(b: Uint8Array): unknown {
  const d = decodeHotFrame(b)!;
  for (let i = 0; i < d.length; i++) d[i] = fromHot(d[i] as unknown[]);
  return d;
}

let sink = 0;
function time(fn: (b: Uint8Array) => unknown, frame: Buffer): number {
  // A fresh Buffer per decode, as a socket gives (the codec caches a DataView on it).
  const copies = Array.from({ length: PER }, () => Buffer.from(frame));
  const t0 = process.cpuUsage();
  for (let i = 0; i < PER; i++) sink += (fn(copies[i]!) as unknown[]).length;
  const t = process.cpuUsage(t0);
  return ((t.user + t.system) * 1000) / PER; // ns per frame
}

for (const [name, frame] of frames) {
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    a.push(time(viaCodec, frame));
    b.push(time(direct, frame));
  }
  const med = (x: number[]) => [...x].sort((p, q) => p - q)[x.length >> 1]!;
  console.log(
    `${name.padEnd(8)} ${String(frame.byteLength).padStart(3)} B  codec+fromHot ${med(a).toFixed(0)} ns  direct+fromHot ${med(b).toFixed(0)} ns  (${(med(b) / med(a)).toFixed(2)}x)`,
  );
}
if (sink < 0) console.log(sink);
