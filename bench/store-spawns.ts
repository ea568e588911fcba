// The store alone, without server or client: what one durable spawn writes (a call, its input,
// its graph row, behind an idempotency lookup), 2 000 at a time, each awaiting the commit that
// holds it, on SQLite and on a private Postgres cluster (default settings) in the same run.
// The ceiling the store puts under `bench/store-compare.ts`'s end-to-end durable spawns/s.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PostgresStore, SqliteStore, type Store } from "@skiff/server";
import { postgres } from "../test/helpers/postgres.js";

const N = Number(process.env.BENCH_SPAWN_N ?? 20_000);
const AT_ONCE = 2000;

async function measure(name: string, store: Store): Promise<number> {
  let commits = 0;
  let commitMs = 0;
  store.setCommitObserver((ms) => {
    commits++;
    commitMs += ms;
  });
  const t = performance.now();
  for (let i = 0; i < N; i += AT_ONCE) {
    await Promise.all(
      Array.from({ length: Math.min(AT_ONCE, N - i) }, async (_, j) => {
        const id = `fc-${i + j}`;
        if (await store.getCallByIdempotencyKey(`k-${id}`)) throw new Error(`${id} exists`);
        const now = Date.now();
        store.insertCall(
          {
            id,
            functionId: "fu-1",
            appId: "ap-1",
            kind: "spawn",
            idempotencyKey: `k-${id}`,
            parentInputId: null,
            method: null,
            createdAt: now,
          },
          [{ id: `in-${id}`, callId: id, idx: 0, args: new Uint8Array(24), state: "pending", attempt: 0, failures: 0 }],
        );
        store.insertGraphInput({
          inputId: `in-${id}`,
          callId: id,
          parentInputId: null,
          functionName: "f",
          createdAt: now,
        });
        await store.flush();
      }),
    );
  }
  const rate = N / ((performance.now() - t) / 1000);
  console.log(
    `  ${name.padEnd(9)} ${rate.toFixed(0).padStart(7)} spawns/s   ${commits} commits, ${(commitMs / commits).toFixed(1)} ms each`,
  );
  await store.close();
  return rate;
}

console.log(`store-spawns: ${N} durable spawns written to the store alone, ${AT_ONCE} at a time`);
const dir = mkdtempSync(join(tmpdir(), "skiff-store-spawns-"));
const sqlite = await measure("sqlite", new SqliteStore({ dataDir: dir }));
rmSync(dir, { recursive: true, force: true });
const url = await (await postgres()).createDatabase("spawns");
const pgRate = await measure("postgres", await PostgresStore.open({ url }));
console.log(`  postgres/sqlite ${(pgRate / sqlite).toFixed(2)}x   (target for end to end: postgres >= 5000/s)`);
process.exit(0);
