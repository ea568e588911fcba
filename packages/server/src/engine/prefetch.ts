import type { LiveContainer, LiveFunction, RunningAttempt } from "./model.js";

/**
 * Prefetch: how many inputs wait in a container beyond its `maxInputs` slots, and taking them
 * back when they wait behind a slow one while another container is idle.
 *
 * A container that runs one input at a time and gets its next input only after its output
 * reached the server idles one turnaround (output out, next input in) per input: for a 10 µs
 * function that is 95% idle. So the server hands out more than the free slots: the container
 * keeps them in order and starts the next as a slot frees. How many is sized from two measures,
 * the function's average run time and its turnaround: enough to cover TURNAROUNDS_HELD
 * turnarounds of work, so short inputs never leave a container waiting. That also bounds how
 * much work one container holds ahead (about two turnarounds' worth, a millisecond or two), so
 * long inputs are not hoarded: a function whose inputs take longer than PREFETCH_BELOW
 * turnarounds gets nothing ahead at all (the gain would be under a tenth of its time).
 *
 * A run time is an average: one input can take far longer than the others, and those waiting
 * behind it in its container would then wait for it while another container is idle. When an
 * input has waited in a container much longer than its share (reclaimAfterMs) and another
 * container of the function has a free slot and nothing is queued, the server asks the slow
 * container to give back what it has not started (`inputs.revoke`); what comes back
 * (`inputs.returned`) is queued again at the front. Until it answers, those inputs are still
 * the slow container's: if it dies they are re-run, as anything it held.
 */

/** Turnarounds of work held in a container ahead of its slots. */
const TURNAROUNDS_HELD = 2;
/** Functions whose inputs take longer than this many turnarounds get nothing ahead. */
const PREFETCH_BELOW = 10;
/** Inputs held ahead in one container, whatever the measures say (the map window is 2048). */
export const MAX_PREFETCH = 256;
/** Argument bytes held ahead in one container (inline arguments are up to 1 MiB each). */
export const MAX_PREFETCH_BYTES = 4 * 1024 * 1024;
/** Turnaround assumed until one is measured. */
const DEFAULT_TURNAROUND_MS = 1;
/** An input waits in a container at least this long (and 4× its expected wait) before it is taken back. */
const RECLAIM_MIN_MS = 20;

/** Whether inputs of `fn` may wait in a container at all: never streams (their consumer paces them). */
function prefetchable(fn: LiveFunction): boolean {
  const spec = fn.spec;
  if (spec.isGenerator || spec.web || spec.options.batched) return false;
  return !spec.cls?.methods.some((m) => m.isGenerator);
}

function turnaround(fn: LiveFunction): number {
  return Number.isNaN(fn.turnaroundMs) ? DEFAULT_TURNAROUND_MS : fn.turnaroundMs;
}

/** Inputs a container of `fn` may hold beyond its `maxInputs` slots. */
export function prefetchDepth(fn: LiveFunction): number {
  const avg = fn.avgDurationMs;
  if (!(avg >= 0) || !prefetchable(fn)) return 0; // NaN: nothing measured yet
  const rtt = turnaround(fn);
  if (avg >= PREFETCH_BELOW * rtt) return 0;
  // Per slot: the inputs one slot runs while TURNAROUNDS_HELD turnarounds pass.
  const perSlot = Math.max(1, Math.ceil((TURNAROUNDS_HELD * rtt) / Math.max(avg, 0.001)));
  return Math.min(MAX_PREFETCH, perSlot * fn.spec.options.maxInputs);
}

/** How long an input may wait in a container before it is taken back for an idle one. */
export function reclaimAfterMs(fn: LiveFunction): number {
  const avg = Number.isNaN(fn.avgDurationMs) ? 0 : fn.avgDurationMs;
  const expectedWait = (prefetchDepth(fn) / fn.spec.options.maxInputs + 1) * avg;
  return Math.max(RECLAIM_MIN_MS, 4 * expectedWait);
}

/** Argument bytes an input holds in memory (a blob reference: next to none). */
export function argBytes(args: unknown): number {
  return args instanceof Uint8Array ? args.byteLength : 64;
}

/** Records an output's run time and, for an input that started at hand-out, the turnaround. */
export function noteOutput(fn: LiveFunction, ra: RunningAttempt, durationMs: unknown, receivedAt: number): void {
  if (typeof durationMs !== "number" || !(durationMs >= 0)) return;
  if (durationMs > 0) {
    const estimate = fn.runTimes.observe(durationMs);
    if (estimate !== undefined) fn.avgDurationMs = estimate;
  }
  if (!(ra.sentAt >= 0)) return; // it waited in the container: its hand-out is no turnaround
  const sample = Math.max(0, receivedAt - ra.sentAt - durationMs);
  fn.turnaroundMs = Number.isNaN(fn.turnaroundMs) ? sample : fn.turnaroundMs * 0.9 + sample * 0.1;
}

/**
 * A slot of `c` freed: the first input waiting in it has started there (the container starts
 * them in the order they were handed out). Returns it, to start its timeout clock.
 */
export function promoteNext(c: LiveContainer): RunningAttempt | undefined {
  if (c.queued === 0) return undefined;
  // Started ones come first in `running` (insertion order): at most maxInputs (plus timed-out
  // ones still finishing) are passed over before the first waiting one.
  for (const ra of c.running.values()) {
    if (!ra.queued) continue;
    unqueue(c, ra);
    return ra;
  }
  return undefined;
}

/** `ra` no longer waits in `c` (started, answered or taken back). */
export function unqueue(c: LiveContainer, ra: RunningAttempt): void {
  if (!ra.queued) return;
  ra.queued = false;
  c.queued--;
  c.queuedBytes -= argBytes(ra.input.args);
}

/** What reclaiming needs from the engine. */
export interface ReclaimHost {
  /** Asks `c` to give back these inputs it has not started. */
  revoke(c: LiveContainer, inputIds: string[]): void;
  dispatch(fn: LiveFunction): void;
}

/** Whether `c` is a container of `fn` that takes inputs now. */
export function takesInputs(fn: LiveFunction, c: LiveContainer): boolean {
  return c.status === "ready" && c.version === fn.version && !c.reserved;
}

/**
 * With nothing queued for `fn` and a container of it with a free slot: takes back the inputs
 * that have waited too long in its other containers (behind a slow input). Called by dispatch;
 * arms a timer for the moment the oldest waiting input is due, when none is yet.
 */
export function reclaim(fn: LiveFunction, host: ReclaimHost): void {
  if (fn.queue.length > 0) return;
  let idle = false;
  let waiting = false;
  for (const c of fn.containers.values()) {
    if (!takesInputs(fn, c)) continue;
    // A paused one was asked already; its answer is on the way.
    if (c.queued > 0) waiting ||= !c.prefetchPaused;
    else if (c.running.size < fn.spec.options.maxInputs) idle = true;
  }
  if (!idle || !waiting) return;
  const now = Date.now();
  const after = reclaimAfterMs(fn);
  let nextDue = Number.POSITIVE_INFINITY;
  for (const c of fn.containers.values()) {
    if (c.queued === 0 || c.prefetchPaused || !takesInputs(fn, c)) continue;
    const ids: string[] = [];
    let oldest = Number.POSITIVE_INFINITY;
    for (const ra of c.running.values()) {
      if (!ra.queued || ra.timedOut) continue;
      oldest = Math.min(oldest, ra.input.startedAt);
      ids.push(ra.input.id);
    }
    if (ids.length === 0) continue;
    if (now - oldest >= after) {
      c.prefetchPaused = true;
      host.revoke(c, ids);
    } else nextDue = Math.min(nextDue, oldest + after);
  }
  if (nextDue !== Number.POSITIVE_INFINITY && !fn.reclaimTimer) {
    fn.reclaimTimer = setTimeout(
      () => {
        fn.reclaimTimer = undefined;
        if (fn.live) host.dispatch(fn);
      },
      Math.max(1, nextDue - now),
    );
    fn.reclaimTimer.unref();
  }
}

/** Asks `c` to give back every input waiting in it (a graceful stop: nothing new starts). */
export function revokeHeld(c: LiveContainer): void {
  if (c.queued === 0 || c.status === "dead") return;
  const ids: string[] = [];
  for (const ra of c.running.values()) if (ra.queued && !ra.timedOut) ids.push(ra.input.id);
  c.prefetchPaused = true;
  if (ids.length > 0) c.channel?.send("inputs.revoke", { inputIds: ids });
}

/** Stops the function's reclaim timer (the function stopped). */
export function stopReclaim(fn: LiveFunction): void {
  if (fn.reclaimTimer) clearTimeout(fn.reclaimTimer);
  fn.reclaimTimer = undefined;
}
