import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BlobGrants, ungrantedBlob } from "./blob-grants.js";

describe("BlobGrants", () => {
  it("holds at most max, the newest half at least; an id added again is kept as new", () => {
    const g = new BlobGrants(4);
    for (const id of ["a", "b"]) g.add(id);
    for (const id of ["c", "d"]) g.add(id); // a, b now the older generation
    assert.deepEqual(
      ["a", "b", "c", "d"].map((id) => g.has(id)),
      [true, true, true, true],
    );
    g.add("a"); // seen again: into the new generation (c, d become the older one)
    g.add("e");
    assert.ok(g.size <= 4);
    assert.deepEqual(
      ["a", "b", "c", "d", "e"].map((id) => g.has(id)),
      [true, false, true, true, true],
    );
    for (let i = 0; i < 1000; i++) g.add(`x${i}`);
    assert.ok(g.size <= 4, "bounded whatever is added");
    assert.equal(g.has("x999"), true);
    assert.equal(g.has("a"), false);
  });

  it("finds a blob not granted in a payload, a deploy's bundle or an image step's files", () => {
    const g = new BlobGrants();
    g.add("bl-mine");
    const args = new Uint8Array([1, 2]);
    assert.equal(ungrantedBlob(g, { functionId: "fu-1", args, idempotencyKey: "k" }), undefined);
    assert.equal(ungrantedBlob(g, { args: { blob: "bl-mine" } }), undefined);
    assert.equal(ungrantedBlob(g, { items: [{ idx: 0, args: { blob: "bl-other" } }] }), "bl-other");
    assert.equal(ungrantedBlob(g, { name: "a", bundleBlobId: "bl-other", functions: [] }), "bl-other");
    const step = { kind: "dir", remote: "/app", blobId: "bl-files" };
    assert.equal(ungrantedBlob(g, { bundleBlobId: "bl-mine", functions: [{ image: { steps: [step] } }] }), "bl-files");
  });
});
