// The Dict put's store path alone, for A/B of store changes without a server, a network or a
// client: durable `dictPut` overwrites on the SQLite store of each checkout named (default:
// this one), one per turn of the event loop as a server commits a lone put (so each commits
// at once), in blocks alternating between the checkouts within one process. Prints, per
// checkout, the main thread's CPU per put (the loop turn included) and the put's wall p50,
// medians over the blocks. BENCH_ROUNDS (20) blocks of BENCH_N (2 000) puts each.
//   node --import tsx bench/dict-store-put.ts /work/wt/base .
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** What this bench calls of a checkout's store. */
interface Store {
  objects: {
    createObject(row: object): Promise<unknown>;
    dictPut(
      id: string,
      key: string,
      value: { inline: Uint8Array },
      now: number,
      skip: boolean,
      touchAfter: number,
    ): Promise<boolean>;
  };
  close(): Promise<void>;
}

const N = Number(process.env.BENCH_N ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const repos = (process.argv.length > 2 ? process.argv.slice(2) : ["."]).map((r) => resolve(r));
/** This thread's CPU (ns) from the scheduler's count: the checkpoint thread's is not in it. */
const mainNs = () => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0]);
const turn = () => new Promise<void>((r) => setImmediate(r));
const enc = new TextEncoder();
const valueAt = (i: number) => ({ inline: enc.encode(JSON.stringify({ user: "u-123", score: i, tags: ["a", "b"] })) });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN;

const sides: { repo: string; store: Store; dir: string; cpu: number[]; wall: number[] }[] = [];
for (const repo of repos) {
  const { SqliteStore } = await import(join(repo, "packages/server/src/store/sqlite/sqlite-store.ts"));
  const dir = mkdtempSync(join(tmpdir(), "skiff-dict-store-"));
  const store = new SqliteStore({ dataDir: dir }) as Store;
  await store.objects.createObject({
    id: "di-1",
    kind: "dict",
    environment: "main",
    name: "bench",
    ownerApp: null,
    ownerSession: null,
    createdAt: Date.now(),
  });
  sides.push({ repo, store, dir, cpu: [], wall: [] });
}
const put = (s: Store, i: number) => s.objects.dictPut("di-1", `s:k${i % 1000}`, valueAt(i), Date.now(), false, 1e6);
try {
  // Every key written, and a WAL cycle or more behind each store (it starts over at 4 000 pages).
  for (const x of sides)
    for (let i = 0; i < 5000; i++) {
      await put(x.store, i);
      await turn();
    }
  let i = 0;
  for (let r = 0; r < ROUNDS; r++)
    // Alternate which goes first.
    for (const x of r % 2 ? [...sides].reverse() : sides) {
      const wall: number[] = [];
      const c0 = mainNs();
      for (let k = 0; k < N; k++, i++) {
        const t = performance.now();
        await put(x.store, i);
        wall.push(performance.now() - t);
        await turn();
      }
      x.cpu.push((mainNs() - c0) / 1000 / N);
      x.wall.push(median(wall) * 1000);
    }
  console.log(`dict-store-put: ${ROUNDS} blocks of ${N} durable overwrites per checkout, alternating`);
  for (const x of sides)
    console.log(
      `  ${x.repo.padEnd(28)} main-thread CPU per put ${median(x.cpu).toFixed(1)} us   put wall p50 ${median(x.wall).toFixed(1)} us`,
    );
} finally {
  for (const x of sides) {
    await x.store.close();
    rmSync(x.dir, { recursive: true, force: true });
  }
}
