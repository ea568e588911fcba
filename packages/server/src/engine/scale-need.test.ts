import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LiveFunction, RunningAttempt } from "./model.js";
import { containersNeeded, noteStartLatency, overdueInputs, START_WORTH_MS, startLatency } from "./scale-need.js";

function fn(
  avgDurationMs: number,
  maxInputs = 1,
  batched?: { maxBatchSize: number },
  startLatencyMs = Number.NaN,
): LiveFunction {
  return {
    avgDurationMs,
    startLatencyMs,
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
/** `demand` inputs, `live` containers of which `ready` are ready (all, unless told). */
const up = (demand: number, live: number, ready = live) => ({ demand, live, ready });

describe("containersNeeded", () => {
  it("one slot per input until run times are measured or while nothing is up", () => {
    assert.deepEqual(containersNeeded(fn(Number.NaN), up(2000, 3), none), { needed: 2000 });
    assert.deepEqual(containersNeeded(fn(0.01), up(2000, 0), none), { needed: 2000 });
    assert.deepEqual(containersNeeded(fn(0.01, 4), up(10, 0), none), { needed: 3 });
  });

  it("long inputs: one container per input, as before", () => {
    // The seed's 100 calls of a 1 s function.
    assert.deepEqual(containersNeeded(fn(1000), up(100, 1), none), { needed: 100 });
    // 1 000 calls of 10 ms: 10 s of work, more than a container per START_WORTH_MS of it.
    assert.equal(containersNeeded(fn(10), up(1000, 1), none).needed, 100);
  });

  it("short inputs: a container per START_WORTH_MS of work, and a recheck", () => {
    // 2 000 spawns of a 10 µs function: 20 ms of work, which the container up finishes.
    const r = containersNeeded(fn(0.01), up(2000, 1), none);
    assert.equal(r.needed, 1);
    assert.equal(r.recheckMs, START_WORTH_MS);
    // Work per slot: 4 slots a container take four times the work.
    assert.equal(containersNeeded(fn(1, 4), up(2000, 1), none).needed, 5);
    assert.equal(containersNeeded(fn(1), up(2000, 1), none).needed, 20);
  });

  it("an input running past its overdue time gets its container's share back", () => {
    const f = fn(0.01);
    const now = 1_000_000;
    container(f, [now - 5000], 3); // stuck for 5 s, three waiting behind it
    assert.equal(overdueInputs(f, START_WORTH_MS, now), 1);
    // Its slot is not counted on to free: what waits for it gets a container.
    assert.equal(containersNeeded(f, up(4, 1), (ms) => overdueInputs(f, ms, now)).needed, 2);
    assert.equal(containersNeeded(f, up(4, 1), none).needed, 1);
    // Another container, busy on time, takes the 20 ms of work waiting before a new one is up.
    container(f, [now - 1]);
    assert.equal(containersNeeded(f, up(10, 2), (ms) => overdueInputs(f, ms, now)).needed, 2);
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
    // No new container (counted from the hand-out, each would have asked for one more).
    assert.equal(containersNeeded(f, up(400, 2), (ms) => overdueInputs(f, ms, now)).needed, 2);
  });

  it("the end of a burst: no start for inputs the containers up take before it would be ready", () => {
    // The seed's 100 calls of a 1 s function, 4 s in: 26 containers up and busy, starts take
    // 600 ms. They start 15.6 inputs before a new one would be ready.
    const f = fn(1000, 1, undefined, 600);
    const r = containersNeeded(f, up(26 + 14, 26), none);
    assert.deepEqual(r, { needed: 26, recheckMs: 4000 });
    // 30 waiting: 14.4 beyond those, 14.4 s of work, starts for a container per 600 ms of it.
    assert.equal(containersNeeded(f, up(26 + 30, 26), none).needed, 26 + 24);
    // Containers still starting take their slots' worth, and no more before they are up.
    assert.equal(containersNeeded(f, up(26 + 30, 30, 26), none).needed, 30 + 18);
    assert.equal(containersNeeded(f, up(26 + 30, 30, 0), none).needed, 56);
  });

  it("the start latency is the one measured, a moving average", () => {
    const f = fn(1000);
    assert.equal(startLatency(f), START_WORTH_MS);
    // With the default, the same 40 inputs on 26 busy containers ask for one each.
    assert.equal(containersNeeded(f, up(40, 26), none).needed, 40);
    noteStartLatency(f, 600);
    assert.equal(startLatency(f), 600);
    assert.equal(containersNeeded(f, up(40, 26), none).needed, 26);
    noteStartLatency(f, 100);
    assert.equal(startLatency(f), 450);
    noteStartLatency(f, Number.NaN);
    assert.equal(startLatency(f), 450);
  });

  it("short inputs: a container per start latency of the work left", () => {
    // 1 000 calls of 10 ms, one container up and starts taking 500 ms: it runs 50 of them by
    // then, and the other 949 (9.5 s of work) ask for a container per 500 ms of it.
    assert.equal(containersNeeded(fn(10, 1, undefined, 500), up(1000, 1), none).needed, 1 + 19);
  });

  it("batched functions scale by batches, as before", () => {
    assert.deepEqual(containersNeeded(fn(0.01, 1, { maxBatchSize: 100 }), up(2000, 1), none), { needed: 20 });
  });
});
