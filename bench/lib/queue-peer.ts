// One side of bench/objects-queue.ts in its own process: puts or gets N small items in
// batches, through a Skiff Queue or a Redis list, and reports when it is done.
import { Redis } from "ioredis";
import { Client, Queue } from "skiff";

const [mode, nArg, batchArg, target] = process.argv.slice(2) as [string, string, string, string];
const N = Number(nArg);
const BATCH = Number(batchArg);
const item = (i: number) => ({ id: i, kind: "job" });

async function main(): Promise<void> {
  process.send?.("ready");
  await new Promise<void>((r) => process.once("message", () => r()));
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let gets = 0;
  if (mode.startsWith("skiff")) {
    const { url, tokenId, tokenSecret } = JSON.parse(target) as Record<string, string>;
    const client = new Client({ serverUrl: url!, tokenId: tokenId!, tokenSecret: tokenSecret!, environment: "main" });
    const q = Queue.fromName<{ id: number }>("bench", { createIfMissing: true, client });
    if (mode === "skiff-put") {
      // Two batches in flight: the next is encoded while the last one commits.
      const inflight: Promise<void>[] = [];
      for (let i = 0; i < N; i += BATCH) {
        inflight.push(q.putMany(Array.from({ length: Math.min(BATCH, N - i) }, (_, j) => item(i + j))));
        if (inflight.length >= 2) await inflight.shift();
      }
      await Promise.all(inflight);
    } else {
      let got = 0;
      while (got < N) {
        got += (await q.getMany(BATCH, { timeoutMs: 30_000 })).length;
        gets++;
      }
    }
    client.close();
  } else {
    const c = new Redis({ port: Number(target), host: "127.0.0.1" });
    if (mode === "redis-put") {
      const inflight: Promise<unknown>[] = [];
      for (let i = 0; i < N; i += BATCH) {
        const vals = Array.from({ length: Math.min(BATCH, N - i) }, (_, j) => JSON.stringify(item(i + j)));
        inflight.push(c.lpush("bench", ...vals));
        if (inflight.length >= 2) await inflight.shift();
      }
      await Promise.all(inflight);
    } else {
      let got = 0;
      while (got < N) {
        const r = (await c.call("BLMPOP", "30", "1", "bench", "RIGHT", "COUNT", String(BATCH))) as
          | [string, string[]]
          | null;
        for (const v of r?.[1] ?? []) JSON.parse(v);
        got += r?.[1].length ?? 0;
        gets++;
      }
    }
    c.disconnect();
  }
  const c = process.cpuUsage(c0);
  // Exits once the figures are sent: a peer killed instead writes no --cpu-prof profile.
  process.send?.({ ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000, gets }, () => process.exit(0));
}

await main();
