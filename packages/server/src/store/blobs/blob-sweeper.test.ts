import assert from "node:assert/strict";
import { mkdtempSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { SqliteStore } from "../sqlite/sqlite-store.js";
import { BlobSweeper } from "./blob-sweeper.js";
import { FsBlobStore } from "./fs-blob-store.js";

describe("BlobSweeper", () => {
  it("deletes old blobs nothing refers to, keeps referenced, in-use and young ones", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-sweep-"));
    const blobs = new FsBlobStore(join(dir, "blobs"));
    const store = new SqliteStore({ dataDir: dir });
    const put = async (n: number, age: number) => {
      const id = await blobs.put(new Uint8Array([n]));
      const t = new Date(Date.now() - age);
      utimesSync(join(dir, "blobs", id.slice(3, 5), id), t, t);
      return id;
    };
    const orphan = await put(1, 120_000);
    const args = await put(2, 120_000);
    const result = await put(3, 120_000);
    const memory = await put(4, 120_000);
    const young = await put(5, 0);
    const expired = await put(6, 120_000);
    const call = (id: string) => ({
      id,
      functionId: "fu-1",
      kind: "spawn" as const,
      idempotencyKey: null,
      parentInputId: null,
      method: null,
      createdAt: 1,
    });
    store.insertCall(call("fc-a"), [
      { id: "in-a", callId: "fc-a", idx: 0, args: { blob: args }, state: "pending", attempt: 0, failures: 0 },
    ]);
    store.insertCall(call("fc-r"), []);
    store.completeCall(
      "fc-r",
      "done",
      { kind: "result", result: { status: "success", data: { blob: result } } },
      1,
      null,
    );
    store.insertCall(call("fc-e"), []);
    store.completeCall(
      "fc-e",
      "done",
      { kind: "result", result: { status: "success", data: { blob: expired } } },
      1,
      5,
    );
    await store.expireCalls(10);
    const sweeper = new BlobSweeper({ blobs, store, inUse: () => new Set([memory]), log: () => {} });
    assert.equal(await sweeper.sweep(), 2);
    assert.equal(await blobs.size(orphan), undefined, "unreferenced: deleted");
    assert.equal(await blobs.size(expired), undefined, "its result expired: deleted");
    for (const kept of [args, result, memory, young]) assert.equal(await blobs.size(kept), 1);
    store.deleteCall("fc-r"); // a .remote result once read
    assert.equal(await sweeper.sweep(), 1);
    assert.equal(await blobs.size(result), undefined);
    await sweeper.close();
    await store.close();
  });
});
