import { type InputWire, newId } from "@skiff/protocol";
import type { LiveContainer, LiveFunction, LiveInput } from "./model.js";

/**
 * Dynamic batching (api.md §2): a batched function's queued inputs are gathered into batches
 * of at most `maxBatchSize`, one batch per idle container, sent as one `inputs` event whose
 * items share a batch id. A batch leaves as soon as it is full, or once its first (oldest)
 * input has waited `waitMs`; until then one timer per function waits for that moment. While
 * every container is busy the queue keeps filling, so the next batch leaves fuller.
 *
 * Each input keeps its own attempt, lease and deadline (all equal within a batch, so a batch
 * times out as a whole) and its own retries: a failed batch sends each input back to the
 * queue, where it is gathered again.
 */

/** What the gathering needs from the engine. */
export interface BatchHost {
  /** Starts an attempt of `input` on `c` and returns what the container is sent. */
  startAttempt(input: LiveInput, c: LiveContainer): InputWire;
  /** Runs dispatch again for `fn` (the wait of its oldest input is over). */
  dispatch(fn: LiveFunction): void;
}

/** One timer per batched function, for the moment its oldest queued input has waited waitMs. */
const waitTimers = new WeakMap<LiveFunction, { timer: NodeJS.Timeout; at: number }>();

/** Hands batches to idle containers of a batched function. */
export function dispatchBatches(fn: LiveFunction, host: BatchHost, now = Date.now()): void {
  const limits = fn.spec.options.batched;
  if (!limits) return;
  for (const c of fn.containers.values()) {
    dropFinishedHead(fn);
    const head = fn.queue.peek();
    if (!head) break;
    if (c.status !== "ready" || c.version !== fn.version || c.running.size > 0 || c.reserved) continue;
    // Cancelled inputs still in the queue count here, so a batch may leave a little early: never late.
    const full = fn.queue.length >= limits.maxBatchSize;
    const due = head.queuedAt + limits.waitMs;
    if (!full && now < due) {
      armWait(fn, host, due, now);
      return;
    }
    const batchId = newId("bt");
    const items: InputWire[] = [];
    while (items.length < limits.maxBatchSize && fn.queue.length > 0) {
      const input = fn.queue.shift()!;
      if (input.status !== "pending") continue; // cancelled while queued
      items.push({ ...host.startAttempt(input, c), batchId });
    }
    if (items.length > 0) c.channel!.send("inputs", { items });
  }
  // Inputs left and no idle container: the next output (a container freed) dispatches again.
}

function dropFinishedHead(fn: LiveFunction): void {
  for (let head = fn.queue.peek(); head && head.status !== "pending"; head = fn.queue.peek()) fn.queue.shift();
}

function armWait(fn: LiveFunction, host: BatchHost, at: number, now: number): void {
  const existing = waitTimers.get(fn);
  if (existing && existing.at <= at) return;
  if (existing) clearTimeout(existing.timer);
  const timer = setTimeout(
    () => {
      waitTimers.delete(fn);
      if (fn.live) host.dispatch(fn);
    },
    Math.max(0, at - now),
  );
  timer.unref();
  waitTimers.set(fn, { timer, at });
}

/** Stops the function's wait timer (the function stopped). */
export function stopBatching(fn: LiveFunction): void {
  const t = waitTimers.get(fn);
  if (t) clearTimeout(t.timer);
  waitTimers.delete(fn);
}
