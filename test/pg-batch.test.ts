// The Postgres store sends a group commit's writes as multi-row statements
// (store/postgres/pg-batch.ts): joined and reordered where that cannot change the outcome.
// Here the same random mix of a call's writes (spawn rows, attempts, graph status, input
// state, completion, parking, deletion, on a few ids so that rows are touched many times)
// goes to two databases: one commit per write (nothing joined) and one commit for all of them
// (joined as far as it goes). Every table must end the same.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { CallOutcome } from "@skiff/protocol";
import { PostgresStore, type Store } from "@skiff/server";
import pg from "pg";
import { postgres } from "./helpers/postgres.js";

const TABLES: [string, string][] = [
  ["calls", "id"],
  ["inputs", "id"],
  ["graph_inputs", "input_id"],
  ["attempts", "input_id, attempt"],
];

/** A small deterministic generator, so that a failure can be replayed from its seed. */
function rng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
}

type Write = (s: Store) => void;

function writes(seed: number, n: number): Write[] {
  const r = rng(seed);
  const out: Write[] = [];
  const exists = new Set<string>();
  const outcome = (i: number): CallOutcome => ({
    kind: "result",
    result: { status: "success", data: new Uint8Array([i]) },
  });
  for (let i = 0; i < n; i++) {
    const c = `fc-${r(6)}`;
    const inp = `in-${c}`;
    const at = r(3) + 1;
    const [a, b, k] = [r(2), r(2), r(3)]; // drawn here, not inside a write: both stores get the same
    switch (r(10)) {
      case 0:
        if (exists.has(c)) break; // a call id is new (as in the engine)
        exists.add(c);
        out.push((s) =>
          s.insertCall(
            {
              id: c,
              functionId: "fu-1",
              kind: "spawn",
              idempotencyKey: null,
              parentInputId: null,
              method: null,
              createdAt: i,
            },
            [{ id: inp, callId: c, idx: 0, args: { blob: `b-${i}` }, state: "pending", attempt: 0, failures: 0 }],
          ),
        );
        out.push((s) =>
          s.insertGraphInput({ inputId: inp, callId: c, parentInputId: null, functionName: "f", createdAt: i }),
        );
        break;
      case 1:
        out.push((s) => s.updateGraphInput(inp, a ? `ta-${i}` : null, b ? "pending" : "success"));
        break;
      case 2:
        out.push((s) =>
          s.insertAttempt({
            inputId: inp,
            callId: c,
            attempt: at,
            containerId: `ta-${i}`,
            queuedAt: i,
            startedAt: i,
            coldStartMs: i,
          }),
        );
        break;
      case 3:
        out.push((s) => s.endAttempt(inp, at, a ? "success" : "failure", i));
        break;
      case 4:
        out.push((s) => s.updateInput(inp, a ? "pending" : "done", at, k));
        break;
      case 5:
        out.push((s) => s.completeCall(c, a ? "done" : "cancelled", outcome(i), i, i + 100));
        break;
      case 6:
        out.push((s) => s.setParked(c, a === 0));
        break;
      case 7:
        if (k === 0) {
          exists.delete(c);
          out.push((s) => s.deleteCall(c));
        }
        break;
      default:
        out.push((s) => s.updateGraphInput(inp, null, "failure"));
    }
  }
  return out;
}

async function dump(url: string): Promise<Record<string, unknown[]>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const out: Record<string, unknown[]> = {};
    for (const [t, key] of TABLES) out[t] = (await c.query(`SELECT * FROM ${t} ORDER BY ${key}`)).rows;
    return out;
  } finally {
    await c.end();
  }
}

const stores: Store[] = [];
after(async () => {
  for (const s of stores) await s.close().catch(() => {});
});

describe("postgres group commit: joined writes", () => {
  it("end every table as the same writes committed one at a time", { timeout: 120_000 }, async () => {
    const cluster = await postgres();
    for (let seed = 1; seed <= 3; seed++) {
      const [oneUrl, allUrl] = [await cluster.createDatabase("one"), await cluster.createDatabase("all")];
      // The reference commits once per write: without waiting for the disk each time (the
      // outcome is the same, and the test takes seconds, not minutes).
      const admin = new pg.Client({ connectionString: oneUrl });
      await admin.connect();
      await admin.query(`ALTER DATABASE ${new URL(oneUrl).pathname.slice(1)} SET synchronous_commit = off`);
      await admin.end();
      const one = await PostgresStore.open({ url: oneUrl });
      const all = await PostgresStore.open({ url: allUrl });
      stores.push(one, all);
      let commits = 0;
      all.setCommitObserver(() => commits++);
      const ws = writes(seed, 400);
      for (const w of ws) {
        w(one);
        await one.flush();
      }
      for (const w of ws) w(all); // synchronously: all queued before the commit timer fires
      await all.flush();
      assert.equal(commits, 1, "the writes went as one commit");
      assert.deepEqual(await dump(allUrl), await dump(oneUrl), `seed ${seed}`);
      await one.close();
      await all.close();
    }
  });
});

describe("postgres group commit: a call that ends before its insert is sent", () => {
  const call = (id: string, expiresAt: number | null) => ({
    row: {
      id,
      functionId: "fu-1",
      appId: "ap-1",
      kind: "spawn" as const,
      idempotencyKey: `k-${id}`,
      parentInputId: null,
      method: null,
      createdAt: 1,
    },
    inputs: [
      {
        id: `in-${id}`,
        callId: id,
        idx: 0,
        args: { blob: `bl-${id}` },
        state: "pending" as const,
        attempt: 0,
        failures: 0,
      },
    ],
    expiresAt,
  });
  const outcome: CallOutcome = { kind: "result", result: { status: "success", data: new Uint8Array([7]) } };

  it("is inserted ended (one row version), and not moved past a write that reads calls", async () => {
    const url = await (await postgres()).createDatabase("fold");
    const s = await PostgresStore.open({ url });
    stores.push(s);
    const a = call("fc-a", null);
    s.insertCall(a.row, a.inputs);
    s.completeCall("fc-a", "done", outcome, 2, a.expiresAt);
    await s.flush();
    const b = call("fc-b", 10);
    s.insertCall(b.row, b.inputs);
    const expired = s.expireCalls(1_000); // reads calls: b's completion stays after it
    s.completeCall("fc-b", "done", outcome, 2, b.expiresAt);
    await s.flush();
    assert.equal(await expired, 0);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const rows = (await c.query("SELECT id, ctid::text AS ctid, state, status, completed_at FROM calls ORDER BY id"))
        .rows;
      assert.deepEqual(rows[0], { id: "fc-a", ctid: "(0,1)", state: "done", status: "success", completed_at: "2" });
      assert.deepEqual(
        { ...rows[1], ctid: undefined },
        { id: "fc-b", ctid: undefined, state: "done", status: "success", completed_at: "2" },
      );
      assert.notEqual(rows[1].ctid, "(0,2)", "b was inserted pending and updated");
      // Room for HOT updates of the rows a call updates soon after inserting them (migration 150).
      const ff = await c.query(
        "SELECT relname, reloptions FROM pg_class WHERE relname IN ('inputs', 'graph_inputs', 'attempts') ORDER BY relname",
      );
      assert.deepEqual(
        ff.rows.map((r) => `${r.relname} ${r.reloptions}`),
        ["attempts fillfactor=50", "graph_inputs fillfactor=50", "inputs fillfactor=50"],
      );
    } finally {
      await c.end();
    }
    assert.equal((await s.getCall("fc-a"))?.state, "done");
    assert.deepEqual(await s.pendingCalls("", 10), []);
    assert.deepEqual([...(await s.referencedBlobs(["bl-fc-a", "bl-fc-b"]))], [], "inputs let go of their blobs");
  });
});

describe("postgres group commit: a graph row or attempt updated before its insert is sent", () => {
  it("is inserted as the updates leave it (one row version), the same as insert then updates", async () => {
    const url = await (await postgres()).createDatabase("foldgraph");
    const s = await PostgresStore.open({ url });
    stores.push(s);
    const graph = (id: string) => ({
      inputId: id,
      callId: `fc-${id}`,
      parentInputId: null,
      functionName: "f",
      createdAt: 1,
    });
    const attempt = (id: string) => ({
      inputId: id,
      callId: `fc-${id}`,
      attempt: 1,
      containerId: "ct-1",
      queuedAt: 1,
      startedAt: 2,
      coldStartMs: 0,
    });
    // A spawned call that starts and ends within one group commit.
    s.insertGraphInput(graph("in-a"));
    s.insertAttempt(attempt("in-a"));
    s.updateGraphInput("in-a", "ct-1", "pending");
    s.endAttempt("in-a", 1, "success", 3);
    s.updateGraphInput("in-a", null, "success"); // keeps the container it ran on
    // The same writes, the insert committed before its updates.
    s.insertGraphInput(graph("in-b"));
    s.insertAttempt(attempt("in-b"));
    await s.flush();
    s.updateGraphInput("in-b", "ct-1", "pending");
    s.endAttempt("in-b", 1, "success", 3);
    s.updateGraphInput("in-b", null, "success");
    // An insert of a row that is there already (as after a restart) does not undo its updates.
    s.insertGraphInput(graph("in-b"));
    s.updateGraphInput("in-b", null, "failure");
    await s.flush();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const g = (
        await c.query("SELECT input_id, ctid::text AS ctid, task_id, status FROM graph_inputs ORDER BY input_id")
      ).rows;
      const a = (await c.query("SELECT input_id, ctid::text AS ctid, status, ended_at FROM attempts ORDER BY input_id"))
        .rows;
      assert.deepEqual(g[0], { input_id: "in-a", ctid: "(0,1)", task_id: "ct-1", status: "success" });
      assert.deepEqual(
        { ...g[1], ctid: undefined },
        { input_id: "in-b", ctid: undefined, task_id: "ct-1", status: "failure" },
      );
      assert.deepEqual(a[0], { input_id: "in-a", ctid: "(0,1)", status: "success", ended_at: "3" });
      assert.deepEqual(
        { ...a[1], ctid: undefined },
        { input_id: "in-b", ctid: undefined, status: "success", ended_at: "3" },
      );
    } finally {
      await c.end();
    }
  });
});
