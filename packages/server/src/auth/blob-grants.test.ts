import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BlobGrants } from "./blob-grants.js";

describe("BlobGrants", () => {
  it("holds what was added, at most max, forgetting the least recently added first", () => {
    const g = new BlobGrants(3);
    for (const id of ["a", "b", "c"]) g.add(id);
    g.add("a"); // a is newest again
    g.add("d"); // b, the oldest, goes
    assert.equal(g.size, 3);
    assert.deepEqual(
      ["a", "b", "c", "d"].map((id) => g.has(id)),
      [true, false, true, true],
    );
  });
});
