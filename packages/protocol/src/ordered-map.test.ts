import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OrderedMap } from "./ordered-map.js";

describe("OrderedMap", () => {
  it("holds at most `max` keys and drops the oldest first, returning it", () => {
    const m = new OrderedMap<string, number>(3);
    assert.equal(m.set("a", 1), undefined);
    m.set("b", 2);
    m.set("c", 3);
    assert.deepEqual(m.set("d", 4), ["a", 1]);
    assert.equal(m.size, 3);
    assert.equal(m.get("a"), undefined);
    assert.deepEqual([...m.keys()], ["b", "c", "d"]);
  });

  it("updates a key it holds in place, keeping its age", () => {
    const m = new OrderedMap<string, number>(2);
    m.set("a", 1);
    m.set("b", 2);
    m.set("a", 10);
    assert.equal(m.get("a"), 10);
    m.set("c", 3); // "a" is still the oldest
    assert.deepEqual([...m.keys()], ["b", "c"]);
  });

  it("touch makes a key the newest (least recently used goes first)", () => {
    const m = new OrderedMap<string, number>(3);
    for (const k of ["a", "b", "c"]) m.set(k, 0);
    assert.equal(m.touch("a"), 0);
    assert.equal(m.touch("zz"), undefined);
    m.touch("c"); // the newest already
    assert.deepEqual([...m.keys()], ["b", "a", "c"]);
    m.set("d", 0);
    assert.deepEqual([...m.keys()], ["a", "c", "d"]);
  });

  it("deletes anywhere in the order, and a deleted key set again is the newest", () => {
    const m = new OrderedMap<string, number>(4);
    for (const k of ["a", "b", "c", "d"]) m.set(k, 0);
    assert.equal(m.delete("b"), true);
    assert.equal(m.delete("b"), false);
    m.delete("a");
    m.delete("d");
    assert.deepEqual([...m.keys()], ["c"]);
    m.set("a", 1);
    m.set("e", 1);
    m.set("f", 1);
    assert.deepEqual([...m.keys()], ["c", "a", "e", "f"]);
    assert.deepEqual(m.oldest(), ["c", 0]);
    m.set("g", 1); // full with 4 after the deletes: "c" goes, not a key set later
    assert.deepEqual([...m.keys()], ["a", "e", "f", "g"]);
    assert.deepEqual(m.shift(), ["a", 1]);
    m.clear();
    assert.equal(m.size, 0);
    assert.equal(m.shift(), undefined);
    m.set("x", 1);
    assert.deepEqual([...m.values()], [1]);
  });

  it("stays bounded and in order over many sets, touches and deletes", () => {
    const m = new OrderedMap<number, number>(1000);
    const model: number[] = []; // the reference order, oldest first
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 20_000; i++) {
      const k = rnd(3000);
      const op = rnd(3);
      const at = model.indexOf(k);
      if (op === 0) {
        m.set(k, i);
        if (at < 0) {
          model.push(k);
          if (model.length > 1000) model.shift();
        }
      } else if (op === 1) {
        m.touch(k);
        if (at >= 0) model.push(...model.splice(at, 1));
      } else {
        m.delete(k);
        if (at >= 0) model.splice(at, 1);
      }
      assert.ok(m.size <= 1000);
    }
    assert.deepEqual([...m.keys()], model);
    // Deleting the entry just yielded, as a sweep does, visits every entry once.
    const seen: number[] = [];
    for (const [k] of m.entries()) {
      seen.push(k);
      if (k % 2 === 0) m.delete(k);
    }
    assert.deepEqual(seen, model);
    assert.deepEqual(
      [...m.keys()],
      model.filter((k) => k % 2 !== 0),
    );
  });

  it("refuses a bound that is not a positive integer", () => {
    assert.throws(() => new OrderedMap(0), /positive integer/);
    assert.throws(() => new OrderedMap(1.5), /positive integer/);
    assert.equal(new OrderedMap(Number.POSITIVE_INFINITY).max, Number.POSITIVE_INFINITY);
  });
});
