import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
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
    assert.ok(a.getCall("fc-1"), "reads its own writes before commit");
    await a.flush();
    const b = new SqliteStore({ dataDir: dir });
    assert.equal(b.getCall("fc-1")?.state, "pending");
    assert.equal(b.pendingCalls("", 10).length, 1);
    await a.close();
    await b.close();
  });

  it("drops a deferred insert cancelled before its commit, and writes one that is not", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-store-"));
    const s = new SqliteStore({ dataDir: dir });
    const w1 = s.deferInsertCall(call("fc-a"), input("fc-a"));
    const w2 = s.deferInsertCall(call("fc-b"), input("fc-b"));
    assert.equal(s.cancelDeferred(w1), true);
    await s.flush();
    assert.equal(s.getCall("fc-a"), undefined);
    assert.equal(s.getCall("fc-b")?.state, "pending");
    assert.equal(s.cancelDeferred(w2), false, "already written");
    const w3 = s.deferInsertCall(call("fc-c"), input("fc-c"));
    s.materialize(w3);
    assert.ok(s.getCall("fc-c"));
    await s.close();
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
    assert.equal(s.expireCalls(19), 0);
    assert.equal(s.expireCalls(20), 1);
    assert.equal(s.getCall("fc-x")?.state, "expired");
    assert.equal(s.getCall("fc-x")?.outcome, undefined);
    await s.close();
  });
});
