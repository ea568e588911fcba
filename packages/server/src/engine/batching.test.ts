import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { EventMap, InputWire } from "@skiff/protocol";
import { dispatchBatches, stopBatching } from "./batching.js";
import { Deque } from "./deque.js";
import type { LiveContainer, LiveFunction, LiveInput } from "./model.js";

/** A batched function with fake containers that record what they were sent. */
function setup(maxBatchSize: number, waitMs: number, containers = 1) {
  const sent: { container: string; items: InputWire[] }[] = [];
  const fn = {
    id: "fu-b",
    live: true,
    version: 1,
    spec: { name: "b", isGenerator: false, options: { batched: { maxBatchSize, waitMs } } },
    queue: new Deque<LiveInput>(),
    containers: new Map<string, LiveContainer>(),
  } as unknown as LiveFunction;
  for (let i = 0; i < containers; i++) {
    const id = `ct-${i}`;
    fn.containers.set(id, {
      id,
      status: "ready",
      version: 1,
      reserved: false,
      running: new Map(),
      channel: {
        send: (_n: string, b: EventMap["inputs"]) => sent.push({ container: id, items: b.items }),
        close() {},
      },
    } as unknown as LiveContainer);
  }
  let n = 0;
  const add = (queuedAt: number, status: LiveInput["status"] = "pending") => {
    const input = { id: `in-${n++}`, status, queuedAt, attempt: 0 } as unknown as LiveInput;
    fn.queue.push(input);
    return input;
  };
  const host = {
    dispatched: 0,
    startAttempt(input: LiveInput, c: LiveContainer): InputWire {
      input.status = "running";
      c.running.set(c.running.size, {} as never);
      return { inputId: input.id, callId: "fc", attempt: 1, args: new Uint8Array(), timeoutMs: 1000 };
    },
    dispatch() {
      this.dispatched++;
      dispatchBatches(fn, host);
    },
  };
  return { fn, sent, add, host };
}

describe("dynamic batching (engine/batching.ts)", () => {
  it("waits for a batch to fill, and sends a full one at once, as one event with one batch id", () => {
    const t = setup(3, 60_000);
    t.add(1000);
    t.add(1000);
    dispatchBatches(t.fn, t.host, 1001);
    assert.equal(t.sent.length, 0, "sent a batch that was neither full nor due");
    t.add(1001);
    dispatchBatches(t.fn, t.host, 1002);
    assert.equal(t.sent.length, 1);
    assert.deepEqual(
      t.sent[0]!.items.map((i) => i.inputId),
      ["in-0", "in-1", "in-2"],
    );
    assert.equal(new Set(t.sent[0]!.items.map((i) => i.batchId)).size, 1);
    assert.match(t.sent[0]!.items[0]!.batchId!, /^bt-/);
    stopBatching(t.fn);
  });

  it("sends a partial batch once its oldest input has waited waitMs, by its own timer", async () => {
    const t = setup(10, 30);
    t.add(Date.now());
    dispatchBatches(t.fn, t.host);
    assert.equal(t.sent.length, 0);
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(t.host.dispatched, 1, "the wait timer did not dispatch");
    assert.equal(t.sent.length, 1);
    assert.equal(t.sent[0]!.items.length, 1);
  });

  it("never more than maxBatchSize; one batch per idle container; busy containers get none", () => {
    const t = setup(2, 0, 2);
    for (let i = 0; i < 7; i++) t.add(0);
    dispatchBatches(t.fn, t.host, 1);
    assert.deepEqual(
      t.sent.map((s) => [s.container, s.items.length]),
      [
        ["ct-0", 2],
        ["ct-1", 2],
      ],
    );
    dispatchBatches(t.fn, t.host, 2);
    assert.equal(t.sent.length, 2, "a busy container got a second batch");
    assert.equal(t.fn.queue.length, 3);
  });

  it("skips inputs cancelled while queued, and reserved (shell) or draining containers", () => {
    const t = setup(3, 0, 2);
    const [a, b] = [...t.fn.containers.values()];
    a!.reserved = true;
    b!.status = "draining";
    t.add(0, "done");
    t.add(0);
    dispatchBatches(t.fn, t.host, 1);
    assert.equal(t.sent.length, 0);
    b!.status = "ready";
    dispatchBatches(t.fn, t.host, 1);
    assert.deepEqual(
      t.sent.map((s) => s.items.map((i) => i.inputId)),
      [["in-1"]],
    );
  });
});
