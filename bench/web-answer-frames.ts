// A web request's answer on the container's connection, the two ways it can go: as before the
// web lane (a `gen.items` object with the item, and the output in an `outputs.cols` tuple), and
// as one `web.answer` tuple (hot frames version 2). The container encodes the frame, the server
// decodes it: CPU µs per answer of each, with BENCH_BATCH answers in a frame (several requests
// answered in one turn, as under load), in one process, the two ways alternating every
// BENCH_CHUNK frames over BENCH_ROUNDS rounds (JS only, no sockets: robust to a loaded machine).
//   node --import tsx bench/web-answer-frames.ts
import { decodeFrame, encodeCbor, encodeFrames, type Outgoing, packPayloads } from "@skiff/protocol";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200);
const CHUNK = Number(process.env.BENCH_CHUNK ?? 500);
const BATCH = Number(process.env.BENCH_BATCH ?? 4);

// The item of the benchmark's endpoint ({ok: true}), as the SDK's whole response head.
const item = encodeCbor({
  status: 200,
  headers: [["content-type", "application/json"]],
  body: new TextEncoder().encode('{"ok":true}'),
  end: true,
});
const ended = encodeCbor(undefined);

function before(seq0: number): Outgoing[] {
  const out: Outgoing[] = [];
  const seqs: number[] = [];
  const data: Uint8Array[] = [];
  const durationsMs: number[] = [];
  for (let i = 0; i < BATCH; i++) {
    out.push({
      t: "gen.items",
      b: { inputId: `in-${(seq0 + i).toString(16).padStart(24, "0")}`, attempt: 1, items: [item] },
    });
    seqs.push(seq0 + i);
    data.push(ended);
    durationsMs.push(0.0421);
  }
  out.push({ t: "outputs.cols", b: { seqs, data: packPayloads(data), durationsMs } });
  return out;
}

function lane(seq0: number): Outgoing[] {
  const out: Outgoing[] = [];
  for (let i = 0; i < BATCH; i++) out.push({ t: "web.answer", b: { seq: seq0 + i, item, durationMs: 0.0421 } });
  return out;
}

const ways = { before, lane };
const cpu = { before: { enc: 0, dec: 0 }, lane: { enc: 0, dec: 0 } };
let sink = 0;
function run(way: keyof typeof ways, count: boolean): void {
  const batches: Outgoing[][] = [];
  for (let i = 0; i < CHUNK; i++) batches.push(ways[way](i * BATCH));
  const frames: Uint8Array[] = new Array(CHUNK);
  const t0 = process.cpuUsage();
  for (let i = 0; i < CHUNK; i++) frames[i] = encodeFrames(batches[i]!, true)[0]!;
  const t1 = process.cpuUsage(t0);
  for (let i = 0; i < CHUNK; i++) sink += decodeFrame(frames[i]!, true).length;
  const t2 = process.cpuUsage(t0);
  if (count) {
    cpu[way].enc += t1.user + t1.system;
    cpu[way].dec += t2.user + t2.system - (t1.user + t1.system);
  }
}
for (let r = 0; r < 20; r++) for (const w of ["before", "lane"] as const) run(w, false); // warm-up
for (let r = 0; r < ROUNDS; r++)
  for (const w of r % 2 ? (["lane", "before"] as const) : (["before", "lane"] as const)) run(w, true);
const per = (us: number) => us / (ROUNDS * CHUNK * BATCH);
console.log(
  `web-answer-frames: ${BATCH} answers a frame, ${ROUNDS} rounds of ${CHUNK} frames each way (${sink} messages)`,
);
for (const w of ["before", "lane"] as const)
  console.log(
    `  ${w.padEnd(7)} container encode ${per(cpu[w].enc).toFixed(3)} µs, server decode ${per(cpu[w].dec).toFixed(3)} µs per answer`,
  );
console.log(
  `  lane/before: encode ${(cpu.lane.enc / cpu.before.enc).toFixed(2)}x, decode ${(cpu.lane.dec / cpu.before.dec).toFixed(2)}x`,
);
