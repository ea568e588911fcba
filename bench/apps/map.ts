// Functions the fan-out benchmarks call.
import { App } from "skiff";

export const app = new App("bench-map");

// A trivial async function: 128 inputs at once per container keeps both busy (they are
// interleaved on the event loop, and the server hands the next ones out ahead).
export const square = app.function({ maxContainers: 2, concurrency: { maxInputs: 128 } }, async (x: number) => x * x);

export const items = app.function(async function* (n: number) {
  for (let i = 0; i < n; i++) yield i;
});
