import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Deque } from "./deque.js";

describe("Deque", () => {
  it("keeps FIFO order across growth, with unshift at the front", () => {
    const d = new Deque<number>();
    for (let i = 0; i < 100; i++) d.push(i);
    d.unshift(-1);
    assert.equal(d.length, 101);
    assert.equal(d.shift(), -1);
    for (let i = 0; i < 50; i++) assert.equal(d.shift(), i);
    for (let i = 100; i < 150; i++) d.push(i);
    assert.deepEqual(
      [...d.drain()],
      Array.from({ length: 100 }, (_, i) => i + 50),
    );
    assert.equal(d.shift(), undefined);
  });
});
