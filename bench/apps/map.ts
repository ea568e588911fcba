// Functions the fan-out benchmarks call.
import { App } from "skiff";

export const app = new App("bench-map");

export const square = app.function({ maxContainers: 2, concurrency: { maxInputs: 64 } }, async (x: number) => x * x);

export const items = app.function(async function* (n: number) {
  for (let i = 0; i < n; i++) yield i;
});
