import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { WaitCaps } from "./wait-caps.js";

describe("WaitCaps: one timer for many same-length caps", () => {
  it("fires each cap still there, oldest first, at its own time; deleted ones never", async () => {
    const fired: [string, number, number][] = [];
    const t0 = Date.now();
    const caps = new WaitCaps<string, number>(300, (k, v) => fired.push([k, v, Date.now() - t0]));
    caps.add("a", 1);
    await sleep(100);
    caps.add("b", 2);
    caps.add("c", 3);
    caps.delete("b"); // answered in time
    await sleep(100);
    caps.add("a", 4); // a second reader of "a": its cap starts again, after c's
    assert.equal(caps.size, 2);
    await sleep(250); // c is due at 400 ms, a at 500
    assert.deepEqual(
      fired.map(([k, v]) => [k, v]),
      [["c", 3]],
    );
    assert.ok(fired[0]![2] >= 399, `c fired at ${fired[0]![2]} ms, before its 300 ms cap`);
    await sleep(200);
    assert.deepEqual(
      fired.map(([k, v]) => [k, v]),
      [
        ["c", 3],
        ["a", 4],
      ],
    );
    assert.ok(fired[1]![2] >= 499, `a fired at ${fired[1]![2]} ms, before its renewed cap`);
    assert.equal(caps.size, 0);
    caps.close();
  });

  it("keeps no timer once nothing waits (a server with no requests has no wake-ups)", async () => {
    let n = 0;
    const caps = new WaitCaps<number, null>(20, () => n++);
    for (let i = 0; i < 1000; i++) caps.add(i, null);
    for (let i = 0; i < 1000; i++) caps.delete(i);
    assert.equal(caps.size, 0);
    assert.equal((caps as unknown as { timer: unknown }).timer, undefined);
    await sleep(40);
    assert.equal(n, 0);
    caps.add(1, null);
    caps.close();
    await sleep(40);
    assert.equal(n, 0, "a closed WaitCaps fires nothing");
  });

  it("a cap added while others fire is kept (fire may add again)", async () => {
    const fired: number[] = [];
    const caps: WaitCaps<number, null> = new WaitCaps<number, null>(15, (k) => {
      fired.push(k);
      if (k < 3) caps.add(k + 10, null);
    });
    caps.add(1, null);
    caps.add(2, null);
    await sleep(60);
    assert.deepEqual(fired, [1, 2, 11, 12]);
    caps.close();
  });
});
