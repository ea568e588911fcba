// The functions of bench/batching.ts: one body, costing 2 ms per call plus 10 µs per item
// (busy, as a device would be), batched and not.
import { App } from "skiff";

export const app = new App("bench-batching");

function work(items: number): void {
  const until = performance.now() + 2 + 0.01 * items;
  while (performance.now() < until) {
    // busy: the container can do nothing else meanwhile
  }
}

export const batched = app.function({ batched: { maxBatchSize: 500, waitMs: 5 }, maxContainers: 2 }, (xs: number[]) => {
  work(xs.length);
  return xs.map((x) => ({ y: x * 2, batch: xs.length }));
});

export const single = app.function({ maxContainers: 2 }, (x: number) => {
  work(1);
  return { y: x * 2, batch: 1 };
});
