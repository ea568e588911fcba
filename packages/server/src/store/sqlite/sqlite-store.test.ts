import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
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
