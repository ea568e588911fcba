import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { DeferredWrite } from "../store.js";
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

  it("writes a held insert only when materialized, never once cancelled", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-store-"));
    const s = new SqliteStore({ dataDir: dir });
    const held = (id: string): DeferredWrite => ({ row: call(id), inputs: input(id), state: "pending" });
    const w1 = held("fc-a");
    const w2 = held("fc-b");
    assert.equal(s.cancelDeferred(w1), true);
    s.materialize(w1);
    await s.flush();
    assert.equal(s.getCall("fc-a"), undefined, "cancelled: never written");
    assert.equal(s.getCall("fc-b"), undefined, "held: not written by a commit");
    s.materialize(w2);
    await s.flush();
    assert.equal(s.getCall("fc-b")?.state, "pending");
    assert.equal(s.cancelDeferred(w2), false, "already written");
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
