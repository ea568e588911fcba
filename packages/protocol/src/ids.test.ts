import assert from "node:assert/strict";
import { test } from "node:test";
import { newId } from "./ids.js";

test("newId: the prefix, a dash and 24 lowercase hex digits, each id new", () => {
  const seen = new Set<string>();
  for (const prefix of ["fc", "in", "t", "abc"]) {
    for (let i = 0; i < 2000; i++) {
      const id = newId(prefix);
      assert.match(id, new RegExp(`^${prefix}-[0-9a-f]{24}$`));
      assert.ok(!seen.has(id));
      seen.add(id);
    }
  }
  // Every digit shows up in every position (the bytes are spread over both nibbles).
  for (let pos = 3; pos < 27; pos++) {
    const digits = new Set([...seen].filter((id) => id.startsWith("fc-")).map((id) => id[pos]));
    assert.equal(digits.size, 16, `position ${pos}`);
  }
});
