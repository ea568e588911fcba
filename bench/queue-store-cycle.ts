// The Queue's store path alone, for A/B of store changes without a server, a network or peers:
// cycles of two 1 000-item puts, then two take + ack of 1 000, on the SQLite store of each
// checkout named (default: this one), alternating; prints CPU and bytes written (/proc/self/io
// wchar: the WAL's frames) per item. BENCH_DELAY_MS: a pause between a take and its ack (the
// get's round trip; -1, none, by default), so that they fall in different commit windows as
// in the server. BENCH_CYCLES (300), BENCH_AB_ROUNDS (3).
//   node --import tsx bench/queue-store-cycle.ts /work/wt/base .
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { QueueItems, QueueRun } from "../packages/server/src/store/object-store.js";

/** What this bench calls of a checkout's store (touchAfter: a checkout that lacks it ignores it). */
interface QueueStore {
  queuePut(q: string, p: string, items: QueueItems, now: number, limits: object, touchAfter?: number): Promise<unknown>;
  queueTake(q: string, p: string, n: number): Promise<QueueRun[]>;
  queueAck(q: string, p: string, ids: number[]): Promise<void>;
}

interface Side {
  open(dir: string): { objects: QueueStore; flush(): Promise<void>; close(): Promise<void> };
  itemsOf(list: Uint8Array[]): QueueItems;
}

async function load(repo: string): Promise<Side> {
  const store = await import(join(repo, "packages/server/src/store/sqlite/sqlite-store.ts"));
  const runs = await import(join(repo, "packages/server/src/store/queue-runs.ts"));
  return { open: (dataDir) => new store.SqliteStore({ dataDir }), itemsOf: runs.itemsOf };
}

const N = 1000;
const delay = Number(process.env.BENCH_DELAY_MS ?? -1);
const cycles = Number(process.env.BENCH_CYCLES ?? 300);
const limits = { maxItems: 1_000_000, maxPartitions: 100 };
const wchar = () => Number(/wchar: (\d+)/.exec(readFileSync("/proc/self/io", "utf8"))![1]);

async function once(repo: string): Promise<{ us: number; bytes: number }> {
  const side = await load(repo);
  const enc = new TextEncoder();
  const batch = side.itemsOf(Array.from({ length: N }, (_, i) => enc.encode(JSON.stringify({ id: i, kind: "job" }))));
  const dir = mkdtempSync(join(tmpdir(), "skiff-queue-cycle-"));
  const s = side.open(dir);
  // A day's TTL, as the server's default asks of a put (touchAfter: a tenth of it).
  const put = () => s.objects.queuePut("q", "", batch, Date.now(), limits, 8_640_000);
  const cycle = async () => {
    await Promise.all([put(), put()]);
    for (let k = 0; k < 2; k++) {
      const runs = await s.objects.queueTake("q", "", N);
      const ids: number[] = [];
      for (const r of runs) for (let i = 0; i < r.n; i++) ids.push(r.seq + i);
      if (delay >= 0) await new Promise((r) => setTimeout(r, delay));
      await s.objects.queueAck("q", "", ids);
    }
  };
  try {
    for (let i = 0; i < 100; i++) await cycle();
    await s.flush();
    const c0 = process.cpuUsage();
    const w0 = wchar();
    for (let i = 0; i < cycles; i++) await cycle();
    await s.flush();
    const c = process.cpuUsage(c0);
    const items = cycles * 2 * N;
    return { us: (c.user + c.system) / items, bytes: (wchar() - w0) / items };
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const repos = (process.argv.length > 2 ? process.argv.slice(2) : ["."]).map((r) => resolve(r));
const rounds = Number(process.env.BENCH_AB_ROUNDS ?? 3);
for (let r = 0; r < rounds; r++)
  for (const repo of r % 2 === 0 ? repos : [...repos].reverse()) {
    const x = await once(repo);
    console.log(`${repo}: CPU ${x.us.toFixed(3)} us/item, written ${x.bytes.toFixed(1)} B/item`);
  }
