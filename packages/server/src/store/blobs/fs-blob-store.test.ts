import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { FsBlobStore } from "./fs-blob-store.js";

const idOf = (b: Uint8Array) => `bl-${createHash("sha256").update(b).digest("hex")}`;

describe("FsBlobStore", () => {
  it("stores content-addressed blobs written at once or in parts, and reads ranges", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-blobs-"));
    const blobs = new FsBlobStore(dir);
    const data = new Uint8Array(10_000).map((_, i) => i % 251);
    const id = await blobs.put(data);
    assert.equal(id, idOf(data));
    const u = blobs.begin();
    await u.write(data.subarray(0, 3000));
    await u.write(data.subarray(3000));
    assert.equal(u.size, 10_000);
    assert.equal(await u.finish(), id, "the same bytes in parts: the same id");
    assert.equal(await blobs.size(id), 10_000);
    assert.deepEqual(await blobs.read(id, 9000, 5000), data.subarray(9000));
    assert.deepEqual(await blobs.get(id), data);
    assert.equal(await blobs.get(`bl-${"0".repeat(64)}`), undefined);
    assert.equal(await blobs.size("../../etc/passwd"), undefined, "not a blob id: nothing is read");
    assert.deepEqual(readdirSync(join(dir, ".tmp")), [], "no temp file left behind");
    const aborted = blobs.begin();
    await aborted.write(new Uint8Array(5));
    await aborted.abort();
    assert.deepEqual(readdirSync(join(dir, ".tmp")), []);
  });

  it("lists blobs by age, and a delete spares a blob written again since the cutoff", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-blobs-"));
    const blobs = new FsBlobStore(dir);
    const old = await blobs.put(new Uint8Array([1]));
    const young = await blobs.put(new Uint8Array([2]));
    const past = new Date(Date.now() - 120_000);
    utimesSync(join(dir, old.slice(3, 5), old), past, past);
    const cutoff = Date.now() - 60_000;
    const listed: string[] = [];
    for await (const batch of blobs.listOlderThan(cutoff)) listed.push(...batch);
    assert.deepEqual(listed, [old]);
    await blobs.put(new Uint8Array([1])); // written again: young once more
    await blobs.delete(old, cutoff);
    assert.equal(await blobs.size(old), 1, "rewritten after the cutoff: kept");
    await blobs.delete(young);
    assert.equal(await blobs.size(young), undefined);
    assert.deepEqual(await blobs.usage(), { blobs: 1, bytes: 1 });
  });
});
