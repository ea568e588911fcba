import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Sessions } from "./sessions.js";

describe("Sessions", () => {
  it("holds at most its bound: signing in past it ends the oldest session", () => {
    const s = new Sessions(1000, 3);
    const ids = [0, 1, 2, 3, 4].map((i) => s.create("tk", "admin", 100 + i).id);
    assert.equal(s.size, 3);
    assert.equal(s.get(ids[0], 110), undefined);
    assert.equal(s.get(ids[1], 110), undefined);
    assert.equal(s.get(ids[4], 110)?.id, ids[4]);
    // A sign-out makes room: the next sign-in ends nobody.
    s.delete(ids[3]);
    const next = s.create("tk", "admin", 110).id;
    assert.equal(s.get(ids[2], 111)?.id, ids[2]);
    assert.equal(s.get(next, 111)?.id, next);
    assert.equal(s.size, 3);
  });

  it("a sign-in ends the expired sessions, and only those", () => {
    const s = new Sessions(100, 10);
    const old = s.create("tk", "admin", 0).id;
    const mid = s.create("tk", "admin", 50).id;
    s.create("tk", "admin", 120); // `old` expired at 100: gone; `mid` lives to 150
    assert.equal(s.size, 2);
    assert.equal(s.get(mid, 140)?.id, mid);
    assert.equal(s.get(old, 0), undefined);
    assert.equal(s.get(mid, 150), undefined); // expired: refused and dropped
    assert.equal(s.size, 1);
  });
});
