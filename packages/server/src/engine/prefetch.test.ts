import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Deque } from "./deque.js";
import type { LiveContainer, LiveFunction, LiveInput, RunningAttempt } from "./model.js";
import { MAX_PREFETCH, noteOutput, prefetchDepth, promoteNext, reclaim, revokeHeld, stopReclaim } from "./prefetch.js";
import { RunTimes } from "./run-times.js";

function fn(avgDurationMs: number, turnaroundMs: number, maxInputs = 1, extra: object = {}): LiveFunction {
  return {
    version: 1,
    live: true,
    avgDurationMs,
    runTimes: new RunTimes(),
    turnaroundMs,
    reclaimTimer: undefined,
    queue: new Deque<LiveInput>(),
    containers: new Map(),
    spec: { isGenerator: false, options: { maxInputs }, ...extra },
  } as unknown as LiveFunction;
}

function container(f: LiveFunction, id: string): LiveContainer {
  const c = {
    id,
    fn: f,
    version: 1,
    status: "ready",
    reserved: false,
    running: new Map(),
    nextSeq: 0,
    queued: 0,
    queuedBytes: 0,
    prefetchPaused: false,
  } as unknown as LiveContainer;
  f.containers.set(id, c);
  return c;
}

function hold(c: LiveContainer, id: string, queued: boolean, startedAt = Date.now()): RunningAttempt {
  const ra = {
    input: { id, args: new Uint8Array(10), startedAt, status: "running", attempt: 1 },
    attempt: 1,
    timedOut: false,
    deadline: queued ? Number.POSITIVE_INFINITY : startedAt + 1000,
    killTimer: undefined,
    queued,
    sentAt: Number.NaN,
    seq: c.nextSeq,
  } as unknown as RunningAttempt;
  c.running.set(c.nextSeq++, ra);
  if (queued) {
    c.queued++;
    c.queuedBytes += 10;
  }
  return ra;
}

describe("prefetch sizing", () => {
  it("holds enough short inputs to cover two turnarounds, within the bound", () => {
    assert.equal(prefetchDepth(fn(0.1, 0.5)), 10); // 2 × 0.5 ms of 0.1 ms inputs
    assert.equal(prefetchDepth(fn(0.1, 0.5, 4)), 40); // per slot
    assert.equal(prefetchDepth(fn(0.001, 5)), MAX_PREFETCH);
  });

  it("holds none for inputs long against the turnaround, unmeasured ones or streams", () => {
    assert.equal(prefetchDepth(fn(1000, 0.5)), 0);
    assert.equal(prefetchDepth(fn(6, 0.5)), 0); // over 10 turnarounds
    assert.equal(prefetchDepth(fn(4, 0.5)), 1); // under: one, so the slot never waits
    assert.equal(prefetchDepth(fn(Number.NaN, 0.5)), 0);
    assert.equal(prefetchDepth(fn(0.1, 0.5, 1, { isGenerator: true })), 0);
    assert.equal(prefetchDepth(fn(0.1, 0.5, 1, { web: {} })), 0);
  });

  it("measures the turnaround only on inputs that started at hand-out", () => {
    const f = fn(Number.NaN, Number.NaN);
    const c = container(f, "ct-a");
    const ra = hold(c, "in-1", false);
    ra.sentAt = 100;
    noteOutput(f, ra, 2, 103); // 3 ms there and back, 2 of them running
    assert.equal(f.avgDurationMs, 2);
    assert.equal(f.turnaroundMs, 1);
    noteOutput(f, hold(c, "in-2", true), 2, 500); // waited in the container: no turnaround
    assert.equal(f.turnaroundMs, 1);
  });
});

describe("inputs waiting in a container", () => {
  it("start in the order they were handed out as slots free", () => {
    const f = fn(0.1, 0.5);
    const c = container(f, "ct-a");
    hold(c, "in-1", false);
    const second = hold(c, "in-2", true);
    hold(c, "in-3", true);
    assert.equal(promoteNext(c), second);
    assert.equal(second.queued, false);
    assert.equal(c.queued, 1);
    assert.equal(c.queuedBytes, 10);
  });

  it("are taken back for an idle container once they waited too long, and not before", async () => {
    const f = fn(0.1, 0.5);
    const busy = container(f, "ct-busy");
    container(f, "ct-idle");
    hold(busy, "in-slow", false);
    hold(busy, "in-2", true);
    const revoked: string[][] = [];
    let dispatched = 0;
    const host = { revoke: (_c: LiveContainer, ids: string[]) => revoked.push(ids), dispatch: () => dispatched++ };
    reclaim(f, host);
    assert.deepEqual(revoked, [], "just handed out: it may start any moment");
    assert.ok(f.reclaimTimer, "a timer for when it is due");
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(dispatched, 1, "the timer dispatches again when it is due");
    reclaim(f, host);
    assert.deepEqual(revoked, [["in-2"]]);
    assert.equal(busy.prefetchPaused, true);
    reclaim(f, host);
    assert.equal(revoked.length, 1, "asked once: the answer is on its way");
    stopReclaim(f);
  });

  it("are left where they are while nothing is idle or inputs are queued", () => {
    const f = fn(0.1, 0.5);
    const a = container(f, "ct-a");
    const b = container(f, "ct-b");
    hold(a, "in-1", false);
    hold(a, "in-2", true, Date.now() - 10_000);
    hold(b, "in-3", false);
    const revoked: string[][] = [];
    const host = { revoke: (_c: LiveContainer, ids: string[]) => revoked.push(ids), dispatch: () => {} };
    reclaim(f, host);
    assert.deepEqual(revoked, [], "every container busy");
    b.running.clear();
    f.queue.push({} as LiveInput);
    reclaim(f, host);
    assert.deepEqual(revoked, [], "the idle one takes from the queue first");
    f.queue.shift();
    reclaim(f, host);
    assert.deepEqual(revoked, [["in-2"]]);
    stopReclaim(f);
  });

  it("are all asked back when the server stops gracefully, and no more are handed ahead", () => {
    const f = fn(0.1, 0.5);
    const c = container(f, "ct-a");
    const sent: { name: string; ids: string[] }[] = [];
    (c as { channel: unknown }).channel = {
      send: (name: string, b: { inputIds: string[] }) => sent.push({ name, ids: b.inputIds }),
    };
    hold(c, "in-1", false);
    hold(c, "in-2", true);
    hold(c, "in-3", true);
    revokeHeld(c);
    assert.deepEqual(sent, [{ name: "inputs.revoke", ids: ["in-2", "in-3"] }]);
    assert.equal(c.prefetchPaused, true);
  });
});
