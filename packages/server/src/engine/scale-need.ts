import type { LiveFunction } from "./model.js";

/**
 * About how long a new container takes to start taking inputs here (process, sandbox, network,
 * runtime: 50-100 ms on a 2-core host). Work that the containers up finish sooner than a new
 * one could start is not worth a new one.
 */
export const START_WORTH_MS = 100;

/**
 * How many containers `fn` needs for `demand` inputs (queued + running) with `live` containers
 * starting or ready.
 *
 * One slot per input (`maxInputs` inputs a container) is right for inputs that take long (the
 * seed's 100 calls of a 1 s function: 100 containers). For short ones it starts containers
 * whose work is done before they are up: a burst of 2 000 spawns of a 10 µs function is 20 ms
 * of work, and one slot per input started a container for each, up to the host's capacity
 * (66 here, each costing ~80 ms of CPU on the path of the next spawns). So once run times are
 * measured and a container is up or starting, the count is also capped by the work waiting:
 * one container per START_WORTH_MS of it per slot. Where that guess is wrong (an input far
 * slower than the average, or stuck), its slot is not counted on: each input running longer
 * than overdueMs adds a container's share back (`overdue` counts them, only when asked).
 */
export function containersNeeded(
  fn: LiveFunction,
  demand: number,
  live: number,
  overdue: (overdueMs: number) => number,
): { needed: number; recheckMs?: number } {
  const o = fn.spec.options;
  const bySlots = Math.ceil(demand / (o.batched?.maxBatchSize ?? o.maxInputs));
  const avg = fn.avgDurationMs;
  // Nothing measured yet, nothing up to take the work, or batches (their own wait): by slots.
  if (!(avg >= 0) || live === 0 || o.batched) return { needed: bySlots };
  const byWork = Math.max(1, Math.ceil((demand * avg) / o.maxInputs / START_WORTH_MS));
  if (byWork >= bySlots) return { needed: bySlots };
  const overdueMs = Math.max(START_WORTH_MS, 4 * avg);
  const needed = Math.min(bySlots, byWork + Math.ceil(overdue(overdueMs) / o.maxInputs));
  // Held below one slot per input: asked again once what runs now would be overdue, so an
  // input stuck with nothing else happening still gets its container's share back.
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
