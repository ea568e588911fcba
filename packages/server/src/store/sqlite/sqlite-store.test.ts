import assert from "node:assert/strict";
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { StoreCommitError } from "../store.js";
import { SqliteStore } from "./sqlite-store.js";

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

describe("SqliteStore WAL checkpoints", () => {
  it("checkpoints on its own thread, keeps the WAL bounded, and loses no commit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-store-"));
    const s = new SqliteStore({ dataDir: dir });
    const o = s.objects;
    await o.createObject({
      id: "di-1",
      kind: "dict",
      environment: "main",
      name: "d",
      ownerApp: null,
      ownerSession: null,
      createdAt: 1,
    });
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
    const again = new SqliteStore({ dataDir: dir });
    assert.equal(await again.objects.dictLen("di-1"), 3000);
    const last = await again.objects.dictGet("di-1", "s:k2999", Date.now(), 0);
    assert.ok(last && "inline" in last && last.inline[0] === (2999 & 0xff), "the last put is there");
    await again.close();
  });
});
