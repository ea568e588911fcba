// A cache of expensive results in a Dict, shared by two apps (this one and dict-cache-b.ts):
// `npx skiff run examples/objects/dict-cache-a.ts`, then `npx skiff run examples/objects/dict-cache-b.ts`.
import { App, Dict } from "skiff";

export const app = new App("dict-cache-a");
const cache = Dict.fromName<number, bigint>("fib-cache", { createIfMissing: true });

function fib(n: number): bigint {
  let [a, b] = [0n, 1n];
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

/** fib(n), computed once across every app that shares the cache. */
export const cachedFib = app.function(async (n: number) => {
  const hit = await cache.get(n);
  if (hit !== undefined) return { n, value: hit, cached: true };
  const value = fib(n);
  // skipIfExists: if another container computed it meanwhile, keep theirs.
  await cache.put(n, value, { skipIfExists: true });
  return { n, value, cached: false };
});

app.localEntrypoint(async () => {
  for (const n of [100, 200, 100]) console.log(await cachedFib.remote(n));
});
