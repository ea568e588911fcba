import type { FunctionStats } from "@skiff/protocol";
import type { LiveFunction, LiveInput } from "../model.js";

/** Records how much `fn` has waiting and running now, in its per-minute series (each tick). */
export function sampleLoad(fn: LiveFunction): void {
  let running = 0;
  for (const c of fn.containers.values()) running += c.running.size;
  fn.stats.sample(fn.queue.length + fn.parked, running);
}

/**
 * Live numbers for `getCurrentStats()`: unlike a snapshot's backlog (the queue's length, a
 * bound), this counts exactly, walking `inputs` (every live input of the engine).
 */
export function currentStats(fn: LiveFunction, inputs: Iterable<LiveInput>): FunctionStats {
  let backlog = 0;
  let active = 0;
  let total = 0;
  for (const c of fn.containers.values()) {
    if (c.status === "dead") continue;
    total++;
    if (c.running.size > 0) active++;
  }
  // Queue entries cancelled while waiting are skipped at dispatch; count only live ones.
  for (const i of inputs) if (i.call.fn === fn && (i.status === "pending" || i.status === "retry_wait")) backlog++;
  return { backlog: backlog + fn.parked, numActiveRunners: active, numTotalRunners: total };
}
