import { type InputColumnsWire, type InputWire, type Payload, packPayloads } from "@skiff/protocol";
import type { Attempts } from "./attempts.js";
import { type BatchHost, dispatchBatches } from "./batching.js";
import type { LiveContainer, LiveFunction, LiveInput } from "./model.js";
import { MAX_PREFETCH_BYTES, prefetchDepth, type ReclaimHost, reclaim, takesInputs, unqueue } from "./prefetch.js";

/** What dispatch needs from the engine: its inputs, attempts and containers. */
export interface DispatchHost {
  /** Live inputs by id (the ones a container gives back are looked up). */
  readonly inputs: ReadonlyMap<string, LiveInput>;
  /** Starts and ends the attempts handed out (attempts.ts). */
  readonly attempts: Pick<Attempts, "begin" | "end">;
  /** Starts or stops containers so that capacity follows demand (fleet.ts). */
  readonly fleet: { scale(fn: LiveFunction): void };
}

/**
 * Each function's queue and its hand-out to containers: free slots first, then for short
 * inputs ahead of the slots (prefetch.ts), batches (batching.ts), and inputs taken back from
 * a container where they wait behind a slow one. Once draining, nothing new starts.
 */
export class Dispatcher {
  /** Set by drain(): no input starts from then on. */
  private draining = false;
  private readonly batchHost: BatchHost = {
    startAttempt: (input, c) => this.startAttempt(input, c),
    dispatch: (fn) => this.dispatch(fn),
  };
  private readonly reclaimHost: ReclaimHost = {
    revoke: (c, inputIds) => c.channel?.send("inputs.revoke", { inputIds }),
    dispatch: (fn) => this.dispatch(fn),
  };

  constructor(private readonly host: DispatchHost) {}

  /** A graceful stop begins: no queued input starts from now on (they wait for the next start). */
  drain(): void {
    this.draining = true;
  }

  /** Queues an input (`front`: ahead of the others) and dispatches its function. */
  enqueue(input: LiveInput, front = false): void {
    this.requeue(input, front);
    this.dispatch(input.call.fn);
  }

  /**
   * A new input (a web request's generator call) with nothing queued ahead of it goes straight
   * to the first ready container with a free slot: the container, the attempt and the message
   * dispatch would have chosen, without the queue's round trip and the hand-out's grouping.
   * Otherwise (no free slot: scale-up; batched; stopping) it is queued and dispatched.
   */
  startInput(input: LiveInput): void {
    const fn = input.call.fn;
    if (!this.draining && fn.queue.length === 0 && !fn.spec.options.batched) {
      const slots = fn.spec.options.maxInputs;
      for (const c of fn.containers.values()) {
        if (!takesInputs(fn, c) || c.running.size >= slots) continue;
        this.host.attempts.begin(input, c, false, performance.now());
        const call = input.call;
        const group: InputColumnsWire = {
          callId: call.id,
          timeoutMs: fn.spec.options.timeoutMs,
          seq0: input.seq,
          inputIds: [input.id],
          attempts: [input.attempt],
          args: [input.args],
        };
        if (call.method !== undefined) group.method = call.method;
        c.channel!.send("inputs.cols", { groups: [group] });
        // As dispatch ends: buffer containers and measured demand may want another container.
        this.host.fleet.scale(fn);
        return;
      }
    }
    this.enqueue(input);
  }

  /** Puts an input in its function's queue, without dispatching (recovery queues these and dispatches once). */
  requeue(input: LiveInput, front: boolean): void {
    // Back in the queue with its attempt still open: its container was lost under it.
    if (input.attemptOpen) this.host.attempts.end(input, "lost");
    input.status = "pending";
    input.container = undefined;
    input.queuedAt = Date.now();
    if (front) input.call.fn.queue.unshift(input);
    else input.call.fn.queue.push(input);
  }

  /**
   * Hands queued inputs to ready containers: first to every free slot, then, for short inputs,
   * ahead of the slots (engine/prefetch.ts); takes back inputs waiting behind a slow one when
   * another container is idle; then rescales.
   */
  dispatch(fn: LiveFunction): void {
    // Stopping: running inputs finish, nothing new starts (queued inputs wait for the next start).
    if (this.draining) return;
    if (fn.spec.options.batched) {
      dispatchBatches(fn, this.batchHost); // engine/batching.ts
      this.host.fleet.scale(fn);
      return;
    }
    const slots = fn.spec.options.maxInputs;
    if (fn.queue.length > 0) this.handOut(fn, slots, false);
    if (fn.queue.length > 0) {
      // Only once every free slot is taken: an input never waits in a busy container while
      // another has room.
      const depth = prefetchDepth(fn);
      if (depth > 0) this.handOut(fn, slots + depth, true);
    } else if (fn.containers.size > 1) reclaim(fn, this.reclaimHost);
    this.host.fleet.scale(fn);
  }

  /** Fills each ready container of `fn` up to `limit` inputs (`ahead`: beyond its slots, to wait there). */
  private handOut(fn: LiveFunction, limit: number, ahead: boolean): void {
    // One clock read per hand-out: the turnaround of inputs that start at once is measured.
    const sentAt = ahead ? Number.NaN : performance.now();
    for (const c of fn.containers.values()) {
      if (!takesInputs(fn, c) || (ahead && c.prefetchPaused)) continue;
      // As columns, a group per run of one call's inputs (`inputs.cols`): no object per input
      // to encode here and decode in the container.
      const groups: InputColumnsWire[] = [];
      let group: InputColumnsWire | undefined;
      let args: Payload[] = [];
      while (c.running.size < limit && fn.queue.length > 0) {
        if (ahead && c.queuedBytes >= MAX_PREFETCH_BYTES) break;
        const input = fn.queue.shift()!;
        if (input.status !== "pending") continue; // cancelled while queued
        this.host.attempts.begin(input, c, ahead, sentAt);
        const call = input.call;
        if (group?.callId !== call.id || group.seq0 + group.inputIds.length !== input.seq) {
          if (group) group.args = packPayloads(args);
          args = [];
          group = {
            callId: call.id,
            timeoutMs: fn.spec.options.timeoutMs,
            seq0: input.seq,
            inputIds: [],
            attempts: [],
            args: [],
          };
          // Set after, not spread in: a spread makes two objects more per hand-out.
          if (call.method !== undefined) group.method = call.method;
          groups.push(group);
        }
        group.inputIds.push(input.id);
        group.attempts.push(input.attempt);
        args.push(input.args);
      }
      if (group) group.args = packPayloads(args);
      if (groups.length > 0) c.channel!.send("inputs.cols", { groups });
      if (fn.queue.length === 0) break;
    }
  }

  /**
   * The container gave back inputs it had not started (asked by reclaim): they go to the front
   * of the queue, as they were, for an idle container. Any it did not list had started there.
   */
  returned(c: LiveContainer, items: { inputId: string; attempt: number }[]): void {
    const back: LiveInput[] = [];
    for (const { inputId, attempt } of items) {
      // Held ones never started: each is its input's current attempt.
      const held = this.host.inputs.get(inputId);
      const ra = held && held.container === c && held.attempt === attempt ? c.running.get(held.seq) : undefined;
      if (!ra?.queued || ra.input !== held) continue;
      unqueue(c, ra);
      c.running.delete(ra.seq);
      const input = ra.input;
      if (ra.timedOut || input.status !== "running" || input.attempt !== attempt) continue;
      back.push(input);
    }
    if (c.running.size === 0) c.idleSince = Date.now();
    // Front of the queue, in the order they were handed out.
    for (let i = back.length - 1; i >= 0; i--) this.requeue(back[i]!, true);
    this.dispatch(c.fn);
  }

  /** Starts an attempt of `input` on `c` and returns what the container is sent (batching.ts). */
  private startAttempt(input: LiveInput, c: LiveContainer): InputWire {
    this.host.attempts.begin(input, c);
    return {
      inputId: input.id,
      callId: input.call.id,
      attempt: input.attempt,
      args: input.args,
      timeoutMs: input.call.fn.spec.options.timeoutMs,
      ...(input.call.method !== undefined ? { method: input.call.method } : {}),
      seq: input.seq,
    };
  }
}
