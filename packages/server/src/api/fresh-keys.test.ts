import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FreshKeys } from "./fresh-keys.js";

describe("fresh idempotency keys", () => {
  it("a key of the connection's prefix is fresh once, and only above every number seen", () => {
    const a = new FreshKeys();
    try {
      assert.equal(a.claim(`${a.prefix}1`), true);
      assert.equal(a.claim(`${a.prefix}1`), false, "the same key again");
      assert.equal(a.claim(`${a.prefix}3`), true, "a gap is fine");
      assert.equal(a.claim(`${a.prefix}2`), false, "out of order: looked up");
      assert.equal(a.claim(`${a.prefix}03`), false, "another spelling of a number seen");
      for (const k of [`${a.prefix}x`, `${a.prefix}`, `${a.prefix}1e400`, "ik-0123456789abcdef", "4", `${a.prefix}4.5`])
        assert.equal(a.claim(k), false, k);
    } finally {
      a.close();
    }
  });

  it("a key sent first on another connection is looked up there, and then on its own connection too", () => {
    const a = new FreshKeys();
    const b = new FreshKeys();
    try {
      assert.equal(b.claim(`${a.prefix}5`), false, "a's prefix on b: a resend after a reconnect");
      assert.equal(a.claim(`${a.prefix}5`), false, "seen on b: it may be in the store");
      assert.equal(a.claim(`${a.prefix}4`), false);
      assert.equal(a.claim(`${a.prefix}6`), true);
      a.close();
      assert.equal(b.claim(`${a.prefix}7`), false, "a closed: its prefix is nobody's");
    } finally {
      a.close();
      b.close();
    }
  });
});
