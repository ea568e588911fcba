// The seed's async patterns, in TypeScript: `npx skiff run examples/async.ts`.
import { App, UserCodeError } from "skiff";

export const app = new App("async-patterns");

export const square = app.function(async (x: number) => x * x);

// An async generator, streamed to the caller as it yields.
export const countdown = app.function(async function* (from: number) {
  for (let i = from; i > 0; i--) yield i;
});

// A function that calls another function remotely.
export const sumOfSquares = app.function(async (n: number) => {
  const squares = await Promise.all(Array.from({ length: n }, (_, i) => square.remote(i + 1)));
  return squares.reduce((a, b) => a + b, 0);
});

// A fetch-style function: fails for some inputs, as real requests do.
export const fetchStatus = app.function(async (url: string) => {
  if (url.includes("broken")) throw new Error(`GET ${url}: 503 Service Unavailable`);
  return { url, status: 200 };
});

// A batch function that fans out to the fetch-style one and counts outcomes.
export const checkAll = app.function(async (urls: string[]) => {
  let ok = 0;
  let failed = 0;
  for await (const r of fetchStatus.map(urls, { returnExceptions: true })) {
    if (r instanceof UserCodeError) failed++;
    else ok++;
  }
  return { ok, failed };
});

app.localEntrypoint(async () => {
  // Promise.all over 100 remote calls.
  const hundred = await Promise.all(Array.from({ length: 100 }, (_, i) => square.remote(i)));
  console.log(
    "sum of 100 squares:",
    hundred.reduce((a, b) => a + b, 0),
  );

  // for await over map results (input order).
  const mapped: number[] = [];
  for await (const y of square.map([1, 2, 3, 4])) mapped.push(y);
  console.log("mapped:", mapped.join(" "));

  // An async generator streamed with remoteGen.
  const counted: number[] = [];
  for await (const i of countdown.remoteGen(5)) counted.push(i);
  console.log("countdown:", counted.join(" "));

  // A function that calls another remotely.
  console.log("sumOfSquares(10):", await sumOfSquares.remote(10));

  // Promise.allSettled where the seed uses return_exceptions=True.
  const settled = await Promise.allSettled(
    ["https://a.example", "https://broken.example"].map((u) => fetchStatus.remote(u)),
  );
  console.log("settled:", settled.map((s) => s.status).join(" "));

  // A batch function fanning out and counting successes and failures.
  const urls = Array.from({ length: 20 }, (_, i) =>
    i % 5 === 0 ? `https://broken-${i}.example` : `https://ok-${i}.example`,
  );
  console.log("checkAll:", JSON.stringify(await checkAll.remote(urls)));
});
