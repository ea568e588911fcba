// One side of bench/objects-queue.ts in its own process: puts or gets N small items in
// batches, through a Skiff Queue or a Redis list, and reports when it is done. Before that,
// on the parent's "warm", it connects and moves WARM items the same way (not timed), so the
// timed run is a warm process's: connection made, code optimized, as a long-lived producer's.
import { Redis } from "ioredis";
import { Client, Queue } from "skiff";

const [mode, nArg, batchArg, target, warmArg] = process.argv.slice(2) as [string, string, string, string, string];
const N = Number(nArg);
const BATCH = Number(batchArg);
const WARM = Number(warmArg ?? 0);
const item = (i: number) => ({ id: i, kind: "job" });

/** Moves `n` items, starting at item `from`; returns the gets it took (consumer). */
type Move = (from: number, n: number) => Promise<number>;

/** The producer's and consumer's loops, the same shape on both sides (BATCH a call, two puts in flight). */
function mover(put: (vals: number[]) => Promise<unknown>, get: () => Promise<number>): Move {
  if (mode.endsWith("-put"))
    return async (from, n) => {
      const inflight: Promise<unknown>[] = [];
      for (let i = 0; i < n; i += BATCH) {
        const ids = Array.from({ length: Math.min(BATCH, n - i) }, (_, j) => from + i + j);
        inflight.push(put(ids));
        if (inflight.length >= 2) await inflight.shift();
      }
      await Promise.all(inflight);
      return 0;
    };
  return async (_from, n) => {
    let got = 0;
    let gets = 0;
    while (got < n) {
      got += await get();
      gets++;
    }
    return gets;
  };
}

function connect(): { move: Move; close(): void } {
  if (mode.startsWith("skiff")) {
    const { url, tokenId, tokenSecret } = JSON.parse(target) as Record<string, string>;
    const client = new Client({ serverUrl: url!, tokenId: tokenId!, tokenSecret: tokenSecret!, environment: "main" });
    const q = Queue.fromName<{ id: number; kind: string }>("bench", { createIfMissing: true, client });
    return {
      // putMany encodes the list as one CBOR array; getMany decodes the reply's array once.
      move: mover(
        (ids) => q.putMany(ids.map(item)),
        async () => (await q.getMany(BATCH, { timeoutMs: 30_000 })).length,
      ),
      close: () => client.close(),
    };
  }
  const c = new Redis({ port: Number(target), host: "127.0.0.1" });
  return {
    // Each item JSON-encoded (LPUSH takes strings), each decoded after BLMPOP: the client-side
    // work putMany/getMany do in CBOR.
    move: mover(
      (ids) => c.lpush("bench", ...ids.map((i) => JSON.stringify(item(i)))),
      async () => {
        const r = (await c.call("BLMPOP", "30", "1", "bench", "RIGHT", "COUNT", String(BATCH))) as
          | [string, string[]]
          | null;
        for (const v of r?.[1] ?? []) JSON.parse(v);
        return r?.[1].length ?? 0;
      },
    ),
    close: () => c.disconnect(),
  };
}

const message = () => new Promise<unknown>((r) => process.once("message", r));

async function main(): Promise<void> {
  const side = connect();
  process.send?.("ready");
  await message();
  // Warm-up (not timed): WARM items the same way, then "warmed".
  if (WARM > 0) await side.move(-WARM, WARM);
  process.send?.("warmed");
  await message();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const gets = await side.move(0, N);
  const c = process.cpuUsage(c0);
  side.close();
  // Exits once the figures are sent: a peer killed instead writes no --cpu-prof profile.
  process.send?.({ ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000, gets }, () => process.exit(0));
}

await main();
