import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BlobGrants } from "./blob-grants.js";

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
});
