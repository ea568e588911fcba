import type { LiveFunction } from "./model.js";

/**
 * How long a new container takes to start taking inputs until one of the function's was
 * measured (process, sandbox, network, runtime: 50-100 ms on an idle 2-core host; 0.4-1 s
 * while a burst starts dozens, which is what `startLatencyMs` then says).
 */
export const START_WORTH_MS = 100;
/** Weight of the newest start in the moving average of start latencies. */
const START_LATENCY_WEIGHT = 0.3;

/** Records how long a container of `fn` took from its start to ready. */
export function noteStartLatency(fn: LiveFunction, ms: number): void {
  if (!(ms >= 0)) return;
  const prev = fn.startLatencyMs;
  fn.startLatencyMs = prev >= 0 ? prev * (1 - START_LATENCY_WEIGHT) + ms * START_LATENCY_WEIGHT : ms;
}

/** How long a container of `fn` started now would take to be ready: measured, or the default. */
export function startLatency(fn: LiveFunction): number {
  return fn.startLatencyMs >= 0 ? fn.startLatencyMs : START_WORTH_MS;
}

/** A function's inputs and containers, as scaling counts them. */
export interface Demand {
  /** Inputs queued or handed out (running, or waiting in a container). */
  demand: number;
  /** Containers starting or ready. */
  live: number;
  /** Of those, the ready ones. */
  ready: number;
}

/**
 * How many containers `fn` needs (at least `live` once any is up).
 *
 * One slot per input (`maxInputs` inputs a container) until run times are measured and a
 * container is up. Then no container is started while the live ones would take every waiting
 * input before a new one could be ready (`startLatency`): a ready container's busy slot frees
 * every run time, so by then it starts startLatency/avg of them, and a starting one takes its
 * slots' worth. Counting only slots, the seed's 100 calls of a 1 s function started 2-4
 * containers a burst that were ready once the queue had drained and ran nothing (of 35-45).
 * Otherwise one slot per waiting input, capped by the work beyond what the live ones take by
 * then, a container per start latency of it: for short inputs, containers whose work would be
 * done before they are up are not started (2 000 spawns of a 10 µs function).
 *
 * Where the run time is wrong (an input far slower than the average, or stuck), a slot running
 * longer than overdueMs is not counted on to free (`overdue` counts them, only when asked), so
 * the inputs waiting for it get their container; and a function held below one slot per input
 * is asked again after overdueMs even if nothing else happens.
 */
export function containersNeeded(
  fn: LiveFunction,
  { demand, live, ready }: Demand,
  overdue: (overdueMs: number) => number,
): { needed: number; recheckMs?: number } {
  const o = fn.spec.options;
  const bySlots = Math.ceil(demand / (o.batched?.maxBatchSize ?? o.maxInputs));
  const avg = fn.avgDurationMs;
  // Nothing measured yet, nothing up to take the work, or batches (their own wait): by slots.
  if (!(avg >= 0) || live === 0 || o.batched) return { needed: bySlots };
  const startMs = startLatency(fn);
  const overdueMs = Math.max(startMs, 4 * avg);
  const draining = Math.max(0, ready * o.maxInputs - overdue(overdueMs));
  // Inputs that the ready containers' slots start before a new container could be ready.
  const soon = draining === 0 ? 0 : avg > 0 ? (draining * startMs) / avg : Number.POSITIVE_INFINITY;
  // Inputs waiting for a slot, and those no live container's slot takes before a new one is up.
  const waiting = demand - live * o.maxInputs;
  const left = waiting - soon;
  const extra =
    left > 0 ? Math.min(Math.ceil(waiting / o.maxInputs), Math.ceil((left * avg) / o.maxInputs / startMs)) : 0;
  const needed = Math.min(bySlots, live + extra);
  return needed < bySlots ? { needed, recheckMs: overdueMs } : { needed };
}

/**
 * Inputs that took a slot in `fn`'s containers more than `overdueMs` ago and still run. From
 * the slot, not the hand-out: one that waited in its container behind others (prefetch) has
 * not been running all that time, and counting its wait made every container of a burst of
 * short spawns look stuck, each asking for one more.
 */
export function overdueInputs(fn: LiveFunction, overdueMs: number, now: number): number {
  let n = 0;
  for (const c of fn.containers.values())
    for (const ra of c.running.values()) {
      // Started ones come first (insertion order); the rest wait in the container.
      if (ra.queued) break;
      if (now - ra.slotAt > overdueMs) n++;
    }
  return n;
}
