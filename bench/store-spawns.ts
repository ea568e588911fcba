// The store alone, without server or client: what one durable spawn writes (a call, its input,
// its graph row, behind an idempotency lookup), 2 000 at a time, each awaiting the commit that
// holds it; then what each of those calls writes as it runs (its attempt started and ended,
// its graph row's status twice, its completion), as the engine issues them (no flush). On
// SQLite and on a private Postgres cluster (default settings) in the same run: the ceiling the
// store puts under `bench/store-compare.ts`'s end-to-end durable spawns/s.
//
// BENCH_BASELINE=/path/to/another/checkout (built) also runs that checkout's Postgres store,
// alternated with this one.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CallOutcome } from "@skiff/protocol";
import type { Store } from "@skiff/server";
import * as server from "@skiff/server";
import { postgres } from "../test/helpers/postgres.js";

const N = Number(process.env.BENCH_SPAWN_N ?? 20_000);
const AT_ONCE = 2000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const baseline = process.env.BENCH_BASELINE;
const OUTCOME: CallOutcome = { kind: "result", result: { status: "success", data: new Uint8Array(8) } };

async function measure(name: string, store: Store): Promise<{ spawns: number; lives: number }> {
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
  const spawns = N / ((performance.now() - t) / 1000);
  const spawnCommits = commits;
  const t2 = performance.now();
  for (let i = 0; i < N; i += AT_ONCE) {
    for (let j = i; j < Math.min(i + AT_ONCE, N); j++) {
      const inputId = `in-fc-${j}`;
      const now = Date.now();
      store.updateGraphInput(inputId, "ta-1", "pending");
      store.insertAttempt({
        inputId,
        callId: `fc-${j}`,
        attempt: 1,
        containerId: "ta-1",
        queuedAt: now,
        startedAt: now,
        coldStartMs: 0,
      });
    }
    for (let j = i; j < Math.min(i + AT_ONCE, N); j++) {
      const inputId = `in-fc-${j}`;
      const now = Date.now();
      store.endAttempt(inputId, 1, "success", now);
      store.updateGraphInput(inputId, null, "success");
      store.completeCall(`fc-${j}`, "done", OUTCOME, now, now + 3_600_000);
    }
    await new Promise((r) => setImmediate(r));
  }
  await store.flush();
  const lives = N / ((performance.now() - t2) / 1000);
  const c2 = commits - spawnCommits;
  console.log(
    `  ${name.padEnd(18)} ${spawns.toFixed(0).padStart(7)} spawns/s (${spawnCommits} commits)   ${lives.toFixed(0).padStart(7)} calls' later writes/s (${c2} commits, ${(commitMs / commits).toFixed(1)} ms each overall)`,
  );
  await store.close();
  return { spawns, lives };
}

console.log(
  `store-spawns: ${N} durable spawns written to the store alone, ${AT_ONCE} at a time, then their later writes`,
);
const dir = mkdtempSync(join(tmpdir(), "skiff-store-spawns-"));
const sqlite = await measure("sqlite", new server.SqliteStore({ dataDir: dir }));
rmSync(dir, { recursive: true, force: true });
const cluster = await postgres();
const pgRate = await measure(
  "postgres",
  await server.PostgresStore.open({ url: await cluster.createDatabase("spawns") }),
);
console.log(
  `  postgres/sqlite spawns ${(pgRate.spawns / sqlite.spawns).toFixed(2)}x, later writes ${(pgRate.lives / sqlite.lives).toFixed(2)}x`,
);
if (baseline) {
  const base = (await import(join(baseline, "packages/server/dist/index.js"))) as typeof server;
  for (let r = 0; r < ROUNDS; r++) {
    await measure(`postgres baseline`, await base.PostgresStore.open({ url: await cluster.createDatabase("spawns") }));
    await measure(`postgres this`, await server.PostgresStore.open({ url: await cluster.createDatabase("spawns") }));
  }
}
process.exit(0);
