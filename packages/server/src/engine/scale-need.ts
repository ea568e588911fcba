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
 * container is up. Then a new container is started only for the inputs that no live container
 * would take before it could be ready (`startLatency`): a ready container's busy slot frees
 * every run time, so in that time it starts startLatency/avg of the waiting inputs, and a
 * starting one takes its slots' worth. Counting only slots started a container for each input
 * still queued near the end of a burst (the seed's 100 calls of a 1 s function: a third of
 * the starts ran one input or none, ready once the queue had drained, their CPU taken from
 * the starts still useful); and for short inputs a container whose work is done before it
 * is up (2 000 spawns of a 10 µs function). What is left is split one container per
 * startLatency of its work, at most one per input.
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
  // Inputs no slot of a live container takes now or by then.
  const left = demand - live * o.maxInputs - soon;
  const extra = left > 0 ? Math.min(Math.ceil(left / o.maxInputs), Math.ceil((left * avg) / o.maxInputs / startMs)) : 0;
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
