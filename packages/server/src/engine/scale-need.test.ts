import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LiveFunction, RunningAttempt } from "./model.js";
import { containersNeeded, overdueInputs, START_WORTH_MS } from "./scale-need.js";

function fn(avgDurationMs: number, maxInputs = 1, batched?: { maxBatchSize: number }): LiveFunction {
  return {
    avgDurationMs,
    containers: new Map(),
    spec: { options: { maxInputs, ...(batched ? { batched } : {}) } },
  } as unknown as LiveFunction;
}

/**
 * A container of `f` running inputs that took their slots at these times (handed out at
 * `handedOut`, or then), then `queued` waiting ones.
 */
function container(f: LiveFunction, slotAt: number[], queued = 0, handedOut?: number): void {
  const running = new Map<number, RunningAttempt>();
  let seq = 0;
  for (const t of slotAt)
    running.set(seq++, { queued: false, slotAt: t, input: { startedAt: handedOut ?? t } } as RunningAttempt);
  for (let i = 0; i < queued; i++)
    running.set(seq++, {
      queued: true,
      slotAt: Number.POSITIVE_INFINITY,
      input: { startedAt: handedOut ?? 0 },
    } as RunningAttempt);
  f.containers.set(String(f.containers.size), { running } as never);
}

const none = () => 0;

describe("containersNeeded", () => {
  it("one slot per input until run times are measured or while nothing is up", () => {
    assert.deepEqual(containersNeeded(fn(Number.NaN), 2000, 3, none), { needed: 2000 });
    assert.deepEqual(containersNeeded(fn(0.01), 2000, 0, none), { needed: 2000 });
    assert.deepEqual(containersNeeded(fn(0.01, 4), 10, 0, none), { needed: 3 });
  });

  it("long inputs: one container per input, as before", () => {
    // The seed's 100 calls of a 1 s function.
    assert.deepEqual(containersNeeded(fn(1000), 100, 1, none), { needed: 100 });
    // 1 000 calls of 10 ms: 10 s of work, more than a container per START_WORTH_MS of it.
    assert.equal(containersNeeded(fn(10), 1000, 1, none).needed, 100);
  });

  it("short inputs: a container per START_WORTH_MS of work, and a recheck", () => {
    // 2 000 spawns of a 10 µs function: 20 ms of work, which the container up finishes.
    const r = containersNeeded(fn(0.01), 2000, 1, none);
    assert.equal(r.needed, 1);
    assert.equal(r.recheckMs, START_WORTH_MS);
    // Work per slot: 4 slots a container take four times the work.
    assert.equal(containersNeeded(fn(1, 4), 2000, 1, none).needed, 5);
    assert.equal(containersNeeded(fn(1), 2000, 1, none).needed, 20);
  });

  it("an input running past its overdue time gets its container's share back", () => {
    const f = fn(0.01);
    const now = 1_000_000;
    container(f, [now - 5000], 3); // stuck for 5 s, three waiting behind it
    container(f, [now - 1]); // busy, on time
    assert.equal(overdueInputs(f, START_WORTH_MS, now), 1);
    const r = containersNeeded(f, 10, 2, (ms) => overdueInputs(f, ms, now));
    assert.equal(r.needed, 2);
    // Overdue is judged against four run times where that is longer than START_WORTH_MS.
    assert.equal(overdueInputs(f, 10_000, now), 0);
  });

  it("an input is overdue from when it took its slot, not from its hand-out", () => {
    // A burst of short spawns: handed out 5 s ago, each waited its turn in the container and
    // the one running now started 1 ms ago. Counted from the hand-out, every container of the
    // burst looked stuck and asked for one more.
    const f = fn(0.01);
    const now = 1_000_000;
    container(f, [now - 1], 200, now - 5000);
    container(f, [now - 2], 200, now - 5000);
    assert.equal(overdueInputs(f, START_WORTH_MS, now), 0);
    assert.equal(containersNeeded(f, 400, 2, (ms) => overdueInputs(f, ms, now)).needed, 1);
  });

  it("batched functions scale by batches, as before", () => {
    assert.deepEqual(containersNeeded(fn(0.01, 1, { maxBatchSize: 100 }), 2000, 1, none), { needed: 20 });
  });
});
