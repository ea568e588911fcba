import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ResultWire } from "@skiff/protocol";
import { Attempts, type AttemptsHost } from "./attempts.js";
import type { LiveContainer, LiveInput } from "./model.js";

/** A container of a function with `timeoutMs` and `maxRetries`, and one input of it: plain objects. */
function setup(timeoutMs: number, maxRetries: number) {
  const retries = { maxRetries, initialDelayMs: 10, backoffCoefficient: 1, maxDelayMs: 10 };
  const fn = {
    appName: "a",
    name: "f",
    live: true,
    spec: { options: { timeoutMs, retries } },
    stats: { queueWait: { observe() {} }, retried: 0 },
  };
  const call = { id: "fc-1", fn, stream: undefined };
  const input = {
    id: "in-1",
    call,
    args: new Uint8Array([1]),
    attempt: 0,
    failures: 0,
    status: "pending",
    graph: false,
    attemptOpen: false,
    queuedAt: Date.now(),
    seq: -1,
  } as unknown as LiveInput;
  const sent: { t: string; b: unknown }[] = [];
  const c = {
    id: "ct-1",
    status: "ready",
    running: new Map(),
    nextSeq: 0,
    deadlineTimer: undefined,
    deadlineAt: 0,
    queued: 0,
    queuedBytes: 0,
    readyAt: 0,
    startedAt: 0,
    channel: { send: (t: string, b: unknown) => void sent.push({ t, b }) },
  } as unknown as LiveContainer;
  const log = { enqueued: 0, killed: [] as string[], finished: [] as ResultWire[], rows: [] as string[] };
  const host: AttemptsHost = {
    // Not a graph input: only a retry's state is written.
    store: {
      updateInput: (_id: string, state: string) => void log.rows.push(state),
    } as unknown as AttemptsHost["store"],
    killGraceMs: 30,
    log: () => {},
    killContainer: (k, why) => void log.killed.push(`${k.id}: ${why}`),
    enqueue: () => void log.enqueued++,
    finishInput: (_i, result) => void log.finished.push(result),
    persisted: () => {},
  };
  return { attempts: new Attempts(host), input, c, sent, log };
}

describe("Attempts", () => {
  it("times out an attempt, retries it after its backoff, replaces a container that ignores the signal, and ends the input once retries are spent", (t) => {
    t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
    const { attempts, input, c, sent, log } = setup(20, 1);
    attempts.begin(input, c);
    assert.equal(input.status, "running");
    assert.equal(c.running.size, 1);
    t.mock.timers.tick(20); // timed out
    assert.equal(input.status, "retry_wait");
    t.mock.timers.tick(10); // its backoff passed: queued again
    assert.deepEqual(sent, [{ t: "cancel", b: { inputIds: ["in-1"], reason: "timeout" } }]);
    assert.equal(input.failures, 1);
    assert.equal(log.enqueued, 1);
    assert.deepEqual(log.rows, ["pending"]); // the retry's state outlives this server
    assert.equal(log.finished.length, 0);
    assert.deepEqual(log.killed, []);
    t.mock.timers.tick(20); // its grace (30 ms) passed with the attempt still in the container
    assert.equal(log.killed.length, 1);
    // The retry runs elsewhere, and its answer is a thrown error: no retry is left.
    c.running.clear();
    attempts.begin(input, c);
    attempts.failed(input, { status: "failure", error: new Uint8Array([1]) });
    assert.equal(log.finished.length, 1);
    assert.equal(log.finished[0]?.status, "failure");
    assert.equal(log.enqueued, 1);
  });

  it("starts a prefetched attempt's clock with its slot, not at hand-out", (t) => {
    t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
    const { attempts, input, c, log } = setup(20, 0);
    attempts.begin(input, c, true);
    const ra = c.running.get(input.seq)!;
    assert.equal(ra.deadline, Number.POSITIVE_INFINITY);
    assert.equal(c.deadlineTimer, undefined);
    t.mock.timers.tick(30); // past its timeout, but it never took a slot
    assert.equal(log.finished.length, 0);
    attempts.slotStarted(c, ra);
    t.mock.timers.tick(19);
    assert.equal(log.finished.length, 0);
    t.mock.timers.tick(1);
    assert.equal(log.finished[0]?.status, "timeout");
  });
});
