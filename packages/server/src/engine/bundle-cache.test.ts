import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BundleCache } from "./bundle-cache.js";

function store(blobs: Record<string, number>) {
  const reads: string[] = [];
  const read = async (id: string) => {
    reads.push(id);
    await new Promise((r) => setImmediate(r));
    if (id === "broken") throw new Error("EIO");
    return blobs[id] === undefined ? undefined : new Uint8Array(blobs[id]!);
  };
  return { reads, read };
}

describe("bundle cache", () => {
  it("reads a bundle once for starts asking at the same time and after", async () => {
    const s = store({ a: 10 });
    const c = new BundleCache(s.read);
    const got = await Promise.all(Array.from({ length: 20 }, () => c.get("a")));
    assert.equal(got[0]!.byteLength, 10);
    await c.get("a");
    assert.deepEqual(s.reads, ["a"]);
  });

  it("is bounded in entries and bytes, least recently used out", async () => {
    const s = store({ a: 10, b: 10, c: 10, d: 30, big: 100 });
    const c = new BundleCache(s.read, { entries: 2, bytes: 40 });
    await c.get("a");
    await c.get("b");
    await c.get("a"); // a used last: b goes first
    await c.get("c");
    assert.deepEqual(c.size(), { entries: 2, bytes: 20 });
    s.reads.length = 0;
    await c.get("a");
    await c.get("b");
    assert.deepEqual(s.reads, ["b"], "a was kept, b was evicted");
    await c.get("d"); // 30 + the most recent 10 = 40 bytes
    assert.ok(c.size().bytes <= 40 && c.size().entries <= 2);
    await c.get("big"); // over the byte bound alone: served, not kept
    assert.ok(c.size().bytes <= 40);
    s.reads.length = 0;
    await c.get("big");
    assert.deepEqual(s.reads, ["big"]);
  });

  it("keeps no missing bundle and no failed read", async () => {
    const s = store({});
    const c = new BundleCache(s.read);
    assert.equal(await c.get("gone"), undefined);
    await assert.rejects(c.get("broken"), /EIO/);
    await c.get("gone");
    await assert.rejects(c.get("broken"), /EIO/);
    assert.deepEqual(s.reads, ["gone", "broken", "gone", "broken"]);
    assert.deepEqual(c.size(), { entries: 0, bytes: 0 });
  });
});
