import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RecentMap } from "./recent-map.js";

describe("RecentMap", () => {
  it("keeps the last `max` keys set and drops the oldest first", () => {
    const m = new RecentMap<string, number>(3);
    for (let i = 0; i < 5; i++) m.set(`k${i}`, i);
    assert.equal(m.size, 3);
    assert.equal(m.get("k0"), undefined);
    assert.equal(m.get("k1"), undefined);
    assert.deepEqual([...m.values()], [2, 3, 4]);
    m.set("k5", 5);
    assert.equal(m.get("k2"), undefined);
    assert.deepEqual([...m.values()], [3, 4, 5]);
  });

  it("updates a key it holds in place, keeping its age", () => {
    const m = new RecentMap<string, number>(2);
    m.set("a", 1);
    m.set("b", 2);
    m.set("a", 10);
    assert.equal(m.size, 2);
    assert.equal(m.get("a"), 10);
    m.set("c", 3); // "a" is still the oldest
    assert.equal(m.get("a"), undefined);
    assert.equal(m.get("b"), 2);
    assert.equal(m.get("c"), 3);
  });

  it("stays bounded over many sets", () => {
    const m = new RecentMap<number, number>(1000);
    for (let i = 0; i < 50_000; i++) m.set(i, i);
    assert.equal(m.size, 1000);
    assert.equal(m.get(49_000), 49_000);
    assert.equal(m.get(49_999), 49_999);
    assert.equal(m.get(48_999), undefined);
  });

  it("refuses a bound that is not a positive integer", () => {
    assert.throws(() => new RecentMap(0), /positive integer/);
  });
});
