// CPU cost per operation of a bounded map evicted oldest first, after many deletes: a plain
// Map evicted with `map.delete(map.keys().next().value)` (what dict-service, object-row-cache,
// dashboard sessions and the client's earlyGen did) against OrderedMap (protocol/ordered-map.ts).
// V8 leaves deleted entries in a Map's table until it rehashes, and keys().next() walks them.
// The pattern that hurts: an LRU at 10 000 entries, full (object-row-cache on every object
// operation, dict-service's sizes on every Dict write): a hit moves its key to the newest
// (delete + set on a Map), a miss sets a new key and evicts the least recently used. A FIFO
// whose deletes leave it below its bound never evicts, so it never pays the walk.
import { OrderedMap } from "../packages/protocol/src/ordered-map.js";

const N = Number(process.env.BENCH_N ?? 200_000);
const SIZE = Number(process.env.BENCH_SIZE ?? 10_000);

/** CPU ns per op, best of 5 rounds of N (CPU time: load distorts it much less than wall time). */
function time(fn: (i: number) => void): number {
  let best = Number.POSITIVE_INFINITY;
  let i = 0;
  for (let round = 0; round < 6; round++) {
    const c = process.cpuUsage();
    for (let k = 0; k < N; k++) fn(i++);
    const d = process.cpuUsage(c);
    if (round > 0) best = Math.min(best, ((d.user + d.system) * 1000) / N); // round 0 warms up
  }
  return best;
}

// A key stream where 90% of gets hit a key held, 10% miss (and set a new one).
const keyOf = (i: number) => `k${(i * 7919) % (SIZE * 1.1)}`;

function lruMap(): number {
  const m = new Map<string, number>();
  return time((i) => {
    const k = keyOf(i);
    const v = m.get(k);
    if (v !== undefined) {
      m.delete(k);
      m.set(k, v);
      return;
    }
    m.set(k, i);
    if (m.size > SIZE) m.delete(m.keys().next().value as string);
  });
}

function lruOrdered(): number {
  const m = new OrderedMap<string, number>(SIZE);
  return time((i) => {
    const k = keyOf(i);
    if (m.touch(k) === undefined) m.set(k, i);
  });
}

const rows: [string, number, number][] = [["LRU (get-touch, miss sets)", lruMap(), lruOrdered()]];
console.log(`bounded map, ${SIZE} entries, CPU ns per op (best of 5 × ${N}):`);
for (const [label, map, ordered] of rows)
  console.log(
    `  ${label.padEnd(28)} Map + keys().next(): ${map.toFixed(0).padStart(6)}   OrderedMap: ${ordered.toFixed(0).padStart(5)}   ratio ${(map / ordered).toFixed(1)}×`,
  );
