import assert from "node:assert/strict";
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { StoreCommitError } from "../store.js";
import { SqliteStore, walKeepBytes } from "./sqlite-store.js";

const call = (id: string) => ({
  id,
  functionId: "fu-1",
  kind: "remote" as const,
  idempotencyKey: `k-${id}`,
  parentInputId: null,
  method: null,
  createdAt: 1,
});
const input = (id: string) => [
  { id: `in-${id}`, callId: id, idx: 0, args: new Uint8Array([1]), state: "pending" as const, attempt: 0, failures: 0 },
];

describe("SqliteStore", () => {
  it("makes writes durable by flush(), visible to a second open", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-store-"));
    const a = new SqliteStore({ dataDir: dir });
    a.insertCall({ ...call("fc-1"), kind: "spawn" }, input("fc-1"));
    assert.ok(await a.getCall("fc-1"), "reads its own writes before commit");
    await a.flush();
    const b = new SqliteStore({ dataDir: dir });
    assert.equal((await b.getCall("fc-1"))?.state, "pending");
    assert.equal((await b.pendingCalls("", 10)).length, 1);
    await a.close();
    await b.close();
  });

  it("expires done calls past their retention", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-store-"));
    const s = new SqliteStore({ dataDir: dir });
    s.insertCall({ ...call("fc-x"), kind: "spawn" }, input("fc-x"));
    s.completeCall(
      "fc-x",
      "done",
      { kind: "result", result: { status: "success", data: new Uint8Array([1]) } },
      10,
      20,
    );
    assert.equal(await s.expireCalls(19), 0);
    assert.equal(await s.expireCalls(20), 1);
    assert.equal((await s.getCall("fc-x"))?.state, "expired");
    assert.equal((await s.getCall("fc-x"))?.outcome, undefined);
    await s.close();
  });

  it("fails the flushes of a window whose write failed, and goes on with the next", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-store-"));
    const s = new SqliteStore({ dataDir: dir });
    const token = { id: "tk-1", secretHash: "h", kind: "api" as const, createdAt: 1 };
    s.insertToken(token);
    await s.flush();
    s.insertCall({ ...call("fc-lost"), kind: "spawn" }, input("fc-lost"));
    s.insertToken(token); // a second row with the same id: this window's commit fails
    await assert.rejects(s.flush(), (e: Error) => e instanceof StoreCommitError && /could not commit/.test(e.message));
    assert.equal(await s.getCall("fc-lost"), undefined, "the failed window is rolled back");
    s.insertCall({ ...call("fc-next"), kind: "spawn" }, input("fc-next"));
    await s.flush();
    await s.close();
    const again = new SqliteStore({ dataDir: dir });
    assert.equal((await again.getCall("fc-next"))?.state, "pending");
    assert.equal(await again.getCall("fc-lost"), undefined);
    await again.close();
  });
});

describe("SqliteStore object writes", () => {
  /** Whether `p` has settled after a few microtask turns (no event-loop turn). */
  const settledSoon = async (p: Promise<unknown>) => {
    let done = false;
    void p.then(() => (done = true));
    for (let i = 0; i < 10; i++) await null;
    return done;
  };
  const value = { inline: new Uint8Array([1]) };

  it("commits a lone write at once; writes of the same turn and writes joining an open window commit at its end", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-store-"));
    const s = new SqliteStore({ dataDir: dir });
    const reader = new SqliteStore({ dataDir: dir });
    try {
      const first = s.objects.dictPut("di-1", "s:a", value, 1, false);
      const second = s.objects.dictPut("di-1", "s:b", value, 1, false);
      assert.equal(await settledSoon(first), true, "the first write of a turn is committed in it");
      assert.equal(await reader.objects.dictLen("di-1"), 1, "and another connection sees it");
      assert.equal(await settledSoon(second), false, "the second waits for the end-of-turn commit");
      await second;
      assert.equal(await reader.objects.dictLen("di-1"), 2);
      await new Promise((r) => setImmediate(r));
      // An open window (a call written, not yet committed): an object write joins it.
      s.insertCall({ ...call("fc-w"), kind: "spawn" }, input("fc-w"));
      const joined = s.objects.dictPut("di-1", "s:c", value, 1, false);
      assert.equal(await settledSoon(joined), false, "joins the open window");
      await joined;
      assert.equal((await reader.getCall("fc-w"))?.state, "pending", "the window was committed with it");
    } finally {
      await s.close();
      await reader.close();
    }
  });

  it("takes back all of a write that fails midway, committed at once or in a window", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-store-"));
    const s = new SqliteStore({ dataDir: dir });
    const lim = { maxItems: 1000, maxPartitions: 2 };
    try {
      const two = { bytes: new Uint8Array(2), start: 0, ends: [1, 2] };
      assert.deepEqual(await s.objects.queuePut("qu-1", "", two, 1, lim), { ok: true });
      // The store refuses every run after the first of a put: 300 items are two runs.
      (s as unknown as { db: { exec(sql: string): void } }).db.exec(
        "CREATE TRIGGER refuse BEFORE INSERT ON queue_items WHEN NEW.seq > 3 BEGIN SELECT RAISE(ABORT, 'refused'); END",
      );
      const many = { bytes: new Uint8Array(600), start: 0, ends: Array.from({ length: 300 }, (_, i) => 2 * i + 2) };
      await new Promise((r) => setImmediate(r));
      await assert.rejects(s.objects.queuePut("qu-1", "", many, 1, lim), /refused/);
      assert.equal(await s.objects.queueLen("qu-1", ""), 2, "nothing of the failed lone put is left");
      s.insertCall({ ...call("fc-w"), kind: "spawn" }, input("fc-w"));
      await assert.rejects(s.objects.queuePut("qu-1", "", many, 1, lim), /refused/);
      await s.flush();
      assert.equal(await s.objects.queueLen("qu-1", ""), 2, "nor of one in a window");
      assert.equal((await s.getCall("fc-w"))?.state, "pending", "whose other writes stay");
    } finally {
      await s.close();
    }
  });
});

describe("SqliteStore WAL checkpoints", () => {
  /** The Dict the WAL tests write to. */
  const DICT = {
    id: "di-1",
    kind: "dict",
    environment: "main",
    name: "d",
    ownerApp: null,
    ownerSession: null,
    createdAt: 1,
  } as const;

  it("checkpoints on its own thread, keeps the WAL bounded, and loses no commit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-store-"));
    const s = new SqliteStore({ dataDir: dir });
    let again: SqliteStore | undefined;
    // A failed assertion must still close both stores: the checkpoint thread keeps the process
    // alive otherwise, and the test file hangs instead of failing.
    try {
      const o = s.objects;
      await o.createObject(DICT);
      // 3 000 commits of 2 KiB values with fresh keys: ~9 000 WAL pages, twice the writer's own
      // threshold (COMMIT_CHECKPOINT_PAGES): enough for the thread to be asked many times.
      const value = new Uint8Array(2048);
      let maxWal = 0;
      for (let i = 0; i < 3000; i++) {
        value[0] = i & 0xff;
        await o.dictPut("di-1", `s:k${i}`, { inline: value }, Date.now(), false);
        // The thread works beside this loop: give it a turn now and then, as a server's idle
        // moments would.
        if (i % 100 === 99) await new Promise((r) => setTimeout(r, 5));
        maxWal = Math.max(maxWal, statSync(join(dir, "skiff.db-wal")).size);
      }
      assert.ok(s.walCheckpoints > 0, `the checkpoint thread ran (${s.walCheckpoints} checkpoints)`);
      // 4 000 pages of 4 KiB (+ frame headers) is where the writer starts the WAL over itself.
      assert.ok(maxWal < 20 * 1024 * 1024, `the WAL stayed bounded (largest ${maxWal} bytes)`);
      await s.close();
      again = new SqliteStore({ dataDir: dir });
      assert.equal(await again.objects.dictLen("di-1"), 3000);
      const last = await again.objects.dictGet("di-1", "s:k2999", Date.now(), 0);
      assert.ok(last && "inline" in last && last.inline[0] === (2999 & 0xff), "the last put is there");
    } finally {
      await s.close();
      await again?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("keeps the WAL file at its working size when the WAL starts over (commits overwrite, not append)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-store-"));
    const s = new SqliteStore({ dataDir: dir });
    const wal = join(dir, "skiff.db-wal");
    // The WAL header's checkpoint sequence: it grows by one each time the WAL starts over.
    const restarts = () => {
      const fd = openSync(wal, "r");
      try {
        const h = Buffer.alloc(32);
        readSync(fd, h, 0, 32, 0);
        return h.readUInt32BE(12);
      } finally {
        closeSync(fd);
      }
    };
    try {
      const o = s.objects;
      await o.createObject(DICT);
      // One-page commits (overwrites of 100 keys), each alone in its turn as a lone put is:
      // past the 4 000 pages at which the writer starts the WAL over, twice.
      const value = new Uint8Array(64);
      const full = 4000 * (24 + 4096);
      let first: number | undefined;
      let grown = false;
      let smallestAfter = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 9000; i++) {
        value[0] = i & 0xff;
        await o.dictPut("di-1", `s:k${i % 100}`, { inline: value }, Date.now(), false, 60_000);
        await new Promise((r) => setImmediate(r));
        first ??= restarts();
        const size = statSync(wal).size;
        if (size >= full) grown = true;
        else if (grown) smallestAfter = Math.min(smallestAfter, size);
      }
      assert.ok(restarts() >= first! + 1, `the WAL started over (sequence ${first} -> ${restarts()})`);
      assert.ok(grown, "the WAL reached the automatic checkpoint's size");
      assert.equal(smallestAfter, Number.POSITIVE_INFINITY, `the WAL file was cut back to ${smallestAfter} bytes`);
      assert.ok(statSync(wal).size <= walKeepBytes(4096) + 64 * 4120, "and stays bounded");
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
