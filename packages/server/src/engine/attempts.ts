import type { ResultWire } from "@skiff/protocol";
import type { Store } from "../store/store.js";
import type { LiveCall, LiveContainer, LiveInput, RunningAttempt } from "./model.js";
import { argBytes } from "./prefetch.js";
import { retryDelayMs } from "./retry-policy.js";

/** What attempts need from the engine that owns the queues, the calls and the containers. */
export interface AttemptsHost {
  readonly store: Pick<Store, "updateGraphInput" | "insertAttempt" | "updateInput" | "endAttempt">;
  /** Grace time a container gets to stop an input after its signal fired. */
  readonly killGraceMs: number;
  log(msg: string): void;
  killContainer(c: LiveContainer, why: string): void;
  /** Queues an input (a retry whose delay passed) and dispatches. */
  enqueue(input: LiveInput): void;
  /** `durationMs`: how long its last attempt ran, as its container measured it (NaN when unknown). */
  finishInput(input: LiveInput, result: ResultWire, durationMs: number): void;
  /** Writes a call's row before anything else about it (a `.remote` held in memory only). */
  persisted(call: LiveCall): void;
}

/**
 * An input's attempts on containers, as leases: each starts on a container with a deadline (one
 * timer per container, for its earliest), times out when due (its container is replaced if
 * it ignores the signal), and a failed one is retried with backoff as its function's policy
 * allows, or ends the input.
 */
export class Attempts {
  constructor(private readonly host: AttemptsHost) {}

  /**
   * Starts an attempt of `input` on `c` (what the container is sent is the caller's). `queued`:
   * it waits in the container for a slot (prefetch); its timeout clock starts with the slot.
   */
  begin(input: LiveInput, c: LiveContainer, queued = false, sentAt = Number.NaN): void {
    input.attempt++;
    input.status = "running";
    input.container = c;
    input.startedAt = Date.now();
    const fn = input.call.fn;
    fn.stats.queueWait.observe(input.startedAt - input.queuedAt);
    if (input.graph) {
      this.host.store.updateGraphInput(input.id, c.id, "pending");
      // Waiting for this container to start (it was not ready when the input was queued).
      const cold = c.readyAt > input.queuedAt ? c.readyAt - Math.max(input.queuedAt, c.startedAt) : 0;
      this.host.store.insertAttempt({
        inputId: input.id,
        callId: input.call.id,
        attempt: input.attempt,
        containerId: c.id,
        queuedAt: input.queuedAt,
        startedAt: input.startedAt,
        coldStartMs: cold,
      });
      input.attemptOpen = true;
    }
    const timeoutMs = input.call.fn.spec.options.timeoutMs;
    input.seq = c.nextSeq++;
    const ra: RunningAttempt = {
      input,
      attempt: input.attempt,
      seq: input.seq,
      timedOut: false,
      killTimer: undefined,
      deadline: queued ? Number.POSITIVE_INFINITY : input.startedAt + timeoutMs,
      slotAt: queued ? Number.POSITIVE_INFINITY : input.startedAt,
      queued,
      sentAt,
    };
    c.running.set(ra.seq, ra);
    if (queued) {
      c.queued++;
      c.queuedBytes += argBytes(input.args);
    }
    // A generator's deadline moves by the time it is paused (checkDeadlines); it starts here.
    else if (!c.deadlineTimer || ra.deadline < c.deadlineAt) this.armDeadline(c, ra.deadline);
  }

  /** An input that waited in `c` took a freed slot (fleet.ts, on an output): its timeout clock starts. */
  slotStarted(c: LiveContainer, ra: RunningAttempt): void {
    if (ra.input.call.stream) return; // never prefetched
    ra.slotAt = Date.now();
    ra.deadline = ra.slotAt + ra.input.call.fn.spec.options.timeoutMs;
    if (!c.deadlineTimer || ra.deadline < c.deadlineAt) this.armDeadline(c, ra.deadline);
  }

  private armDeadline(c: LiveContainer, at: number): void {
    if (c.deadlineTimer) clearTimeout(c.deadlineTimer);
    c.deadlineAt = at;
    c.deadlineTimer = setTimeout(() => this.checkDeadlines(c), Math.max(0, at - Date.now()));
  }

  /** Times out a container's attempts that are due, then re-arms for the next deadline. */
  private checkDeadlines(c: LiveContainer): void {
    c.deadlineTimer = undefined;
    if (c.status === "dead") return;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    // At most maxInputs entries (timed-out ones stay until the container answers or dies).
    for (const ra of [...c.running.values()]) {
      if (ra.timedOut) continue;
      const at = deadlineOf(ra, now);
      if (at <= now) this.onTimeout(ra.input, c, ra);
      else next = Math.min(next, at);
    }
    if (next !== Number.POSITIVE_INFINITY) this.armDeadline(c, next);
  }

  private onTimeout(input: LiveInput, c: LiveContainer, ra: RunningAttempt): void {
    if (input.status !== "running" || input.attempt !== ra.attempt) return;
    ra.timedOut = true;
    c.channel?.send("cancel", { inputIds: [input.id], reason: "timeout" });
    // JavaScript cannot interrupt a running function: if it ignores its signal, replace its container.
    this.killAfterGrace(c, ra);
    const secs = input.call.fn.spec.options.timeoutMs / 1000;
    this.failed(input, {
      status: "timeout",
      message: `${input.call.fn.appName}.${input.call.fn.name} timed out after ${secs}s (attempt ${input.attempt})`,
    });
  }

  /** `ra` was signalled to stop (timeout, cancel): its container is replaced if it still runs it after the grace time. */
  killAfterGrace(c: LiveContainer, ra: RunningAttempt): void {
    ra.killTimer = setTimeout(() => this.killIfStillRunning(c, ra), this.host.killGraceMs);
  }

  private killIfStillRunning(c: LiveContainer, ra: RunningAttempt): void {
    if (c.running.get(ra.seq) === ra && c.status !== "dead") {
      this.host.log(`container ${c.id} ignored the signal of input ${ra.input.id}: replacing it`);
      this.host.killContainer(c, "an input ignored its cancel/timeout signal");
    }
  }

  /**
   * A thrown error or a timeout: retry if the policy allows, else finish. `durationMs`: how
   * long the attempt ran, as its container measured it (NaN when unknown).
   */
  failed(input: LiveInput, result: ResultWire, durationMs = Number.NaN): void {
    const policy = input.call.fn.spec.options.retries;
    // A generator that already yielded is not retried: its consumer has seen those items.
    const yielded = (input.call.stream?.yielded ?? 0) > 0;
    if (input.attemptOpen) this.end(input, result.status);
    if (input.failures < policy.maxRetries && input.call.fn.live && !yielded) {
      input.failures++;
      input.call.fn.stats.retried++;
      input.status = "retry_wait";
      input.container = undefined;
      this.host.persisted(input.call);
      this.host.store.updateInput(input.id, "pending", input.attempt, input.failures);
      setTimeout(
        () => {
          if (input.status === "retry_wait") this.host.enqueue(input);
        },
        retryDelayMs(policy, input.failures),
      ).unref();
      return;
    }
    this.host.finishInput(input, result, durationMs);
  }

  /** Ends the recorded attempt of a graph input (its timing on the call's page). */
  end(input: LiveInput, status: string): void {
    input.attemptOpen = false;
    this.host.store.endAttempt(input.id, input.attempt, status, Date.now());
  }
}

/**
 * When an attempt times out (epoch ms). A generator waiting for a slow consumer is not
 * running: the time it has been paused, up to `now`, moves its deadline (while it stays
 * paused, its deadline moves with the clock, and the next check comes when it would be due).
 */
function deadlineOf(ra: RunningAttempt, now: number): number {
  const st = ra.input.call.stream;
  if (!st) return ra.deadline;
  return ra.deadline + st.pausedMs + (st.pausedSince ? now - st.pausedSince : 0);
}
