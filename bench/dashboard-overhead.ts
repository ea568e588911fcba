// What an open dashboard costs a running map: `map` over BENCH_N (default 100 000) inputs of
// x => x * x, in rounds that alternate between no dashboard and a dashboard open on the
// Functions page (its event stream: functions, containers and maps every second, and log
// lines), with BENCH_BROWSER=1 a real Chromium showing the page instead of a stream reader.
// Median of BENCH_ROUNDS rounds each; the baseline is the same map with no dashboard.
import { request } from "node:http";
import { Function_ } from "skiff";
import { runCli, startSkiffServer } from "./lib/skiff-server.js";

const N = Number(process.env.BENCH_N ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** A dashboard's event stream, read and parsed as the page does; returns how to close it. */
function openStream(url: string, auth: string): Promise<{ close(): void; events(): number }> {
  return new Promise((resolve, reject) => {
    let n = 0;
    let buf = "";
    const req = request(`${url}/v1/events`, { headers: { authorization: auth } }, (res) => {
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        buf += d;
        for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
          const chunk = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (chunk.startsWith("data: ")) {
            JSON.parse(chunk.slice(6));
            n++;
          }
        }
      });
      resolve({ close: () => req.destroy(), events: () => n });
    });
    req.on("error", (e) => (n === 0 ? reject(e) : undefined));
    req.end();
  });
}

async function openBrowser(url: string, token: string): Promise<{ close(): Promise<void> }> {
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(url);
  await page.fill("#token", token);
  await page.click("button[type=submit]");
  await page.locator(".shell nav").waitFor();
  return { close: () => browser.close() };
}

const server = await startSkiffServer();
try {
  const d = await runCli(["deploy", "bench/apps/map.ts"], server.env);
  if (d.code !== 0) throw new Error(d.out);
  const sq = await Function_.lookup<Function_<(x: number) => Promise<number>>>("bench-map", "square", {
    client: server.client,
  });
  await sq.map(Array.from({ length: 20_000 }, (_, i) => i)).toArray(); // warm containers and JIT
  const token = server.token;
  const run = async () => {
    function* inputs() {
      for (let i = 0; i < N; i++) yield i;
    }
    const t = performance.now();
    let n = 0;
    for await (const y of sq.map(inputs())) {
      if (y !== n * n) throw new Error(`wrong result at ${n}`);
      n++;
    }
    return performance.now() - t;
  };
  const off: number[] = [];
  const on: number[] = [];
  let events = 0;
  for (let r = 0; r < ROUNDS; r++) {
    off.push(await run());
    if (process.env.BENCH_BROWSER === "1") {
      const b = await openBrowser(server.url, token);
      on.push(await run());
      await b.close();
    } else {
      const s = await openStream(server.url, `Bearer ${token}`);
      on.push(await run());
      events += s.events();
      s.close();
    }
  }
  const what = process.env.BENCH_BROWSER === "1" ? "Chromium on the Functions page" : "a dashboard's event stream";
  console.log(`| ${N.toLocaleString("en")}-input map | median of ${ROUNDS} | rounds |`);
  console.log("| --- | --- | --- |");
  console.log(
    `| no dashboard (baseline) | ${median(off).toFixed(0)} ms | ${off.map((x) => x.toFixed(0)).join(", ")} |`,
  );
  console.log(`| with ${what} open | ${median(on).toFixed(0)} ms | ${on.map((x) => x.toFixed(0)).join(", ")} |`);
  const ratio = median(on) / median(off);
  console.log(
    `ratio with / without: ${ratio.toFixed(3)} (${((ratio - 1) * 100).toFixed(1)}%)${events ? `; ${events} events read` : ""}`,
  );
  console.log(`target <= 5% more: ${ratio <= 1.05 ? "met" : "NOT met"}`);
} finally {
  await server.stop();
}
