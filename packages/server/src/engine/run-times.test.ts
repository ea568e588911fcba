import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RunTimes, WINDOW } from "./run-times.js";

/** Feeds samples; returns the last estimate given. */
function feed(r: RunTimes, samples: number[], start = Number.NaN): number {
  let est = start;
  for (const s of samples) est = r.observe(s) ?? est;
  return est;
}

describe("run-time estimate", () => {
  it("is the mean of what it has while the window fills", () => {
    const r = new RunTimes();
    assert.equal(r.observe(2), 2);
    assert.equal(r.observe(4), 3);
  });

  it("is not moved by the odd input descheduled in the middle (loaded host, GC)", () => {
    const r = new RunTimes();
    let est = feed(r, Array(WINDOW).fill(0.01));
    // One 150 ms sample among 10 µs ones, as seen on a loaded host: a moving average (0.1)
    // made that 15 ms, and the autoscaler asked for containers per 100 ms of that.
    est = feed(r, [150, ...Array(WINDOW - 1).fill(0.01)], est);
    assert.ok(Math.abs(est - 0.01) < 1e-9, `estimate ${est}`);
    est = feed(r, [0.01, 150, 0.01, 0.01, 90, 0.01, 0.01, 0.01], est);
    assert.ok(est < 0.011, `estimate ${est}`);
  });

  it("follows a function that really got slower within a window", () => {
    const r = new RunTimes();
    let est = feed(r, Array(WINDOW).fill(0.01));
    est = feed(r, Array(WINDOW).fill(50), est);
    assert.equal(est, 50);
  });
});
