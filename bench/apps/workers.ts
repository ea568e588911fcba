// Functions of bench/workers.ts: the same on the local provider and on worker hosts.
import { App } from "skiff";

export const app = new App("bench-workers");

// Three containers (one per worker in the worker runs), 128 inputs at once in each.
export const square = app.function({ maxContainers: 3, concurrency: { maxInputs: 128 } }, async (x: number) => x * x);

/** Sleeps, then says when it started (same machine, same clock as the bench). */
export const hold = app.function({ maxContainers: 6 }, async (ms: number) => {
  const startedAt = Date.now();
  await new Promise((r) => setTimeout(r, ms));
  return startedAt;
});
