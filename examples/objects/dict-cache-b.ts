// The second app of the Dict cache example: reads what dict-cache-a.ts computed.
import { App, Dict } from "skiff";

export const app = new App("dict-cache-b");
const cache = Dict.fromName<number, bigint>("fib-cache", { createIfMissing: true });

export const report = app.function(async () => {
  const out: string[] = [];
  for await (const [n, value] of cache.items()) out.push(`fib(${n}) has ${String(value).length} digits`);
  return out;
});

app.localEntrypoint(async () => {
  const lines = await report.remote();
  console.log(lines.length ? lines.join("\n") : "the cache is empty: run dict-cache-a.ts first");
});
