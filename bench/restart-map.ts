// The time a map loses to one kill -9 restart of the server (issue 18): BENCH_N inputs of
// x => x * x, once without a restart (the baseline) and once with the server killed (kill -9)
// and started again on the same data when half the outputs are in. Target: lost time ≤ the
// restart's own time (kill to listening) + 2 s. BENCH_ROUNDS pairs, medians printed.
//   BENCH_N=100000 node --import tsx bench/restart-map.ts
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, Function_ } from "skiff";
import { REPO, runCli } from "./lib/skiff-server.js";

const N = Number(process.env.BENCH_N ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BIN = join(REPO, "packages/cli/bin/skiff.js");
const home = mkdtempSync(join(tmpdir(), "skiff-bench-restart-"));
const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, SKIFF_CONFIG_PATH: join(home, "skiff.toml") };
for (const k of ["SKIFF_SERVER_URL", "SKIFF_TOKEN_ID", "SKIFF_TOKEN_SECRET", "SKIFF_PROFILE"]) delete env[k];

/** Starts the server on `port` (0: any) and the shared data dir; resolves once it listens. */
async function start(port: number): Promise<{ proc: ChildProcess; url: string; out: () => string }> {
  const proc = spawn(
    process.execPath,
    [
      BIN,
      "server",
      "--sandbox",
      process.env.BENCH_SANDBOX ?? "auto",
      "--port",
      String(port),
      "--data-dir",
      join(home, "data"),
    ],
    { env, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const url = await new Promise<string>((res, rej) => {
    const t = setInterval(() => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearInterval(t);
        res(m[1]!);
      }
    }, 5);
    proc.once("exit", () => {
      clearInterval(t);
      rej(new Error(out));
    });
  });
  return { proc, url, out: () => out };
}

let server = await start(0);
const port = Number(new URL(server.url).port);
const first = server.out();
const tokenId = /SKIFF_TOKEN_ID=(\S+)/.exec(first)![1]!;
const tokenSecret = /SKIFF_TOKEN_SECRET=(\S+)/.exec(first)![1]!;
const client = new Client({ serverUrl: server.url, tokenId, tokenSecret, environment: "main" });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

try {
  const d = await runCli(["deploy", "bench/apps/map.ts"], {
    ...env,
    SKIFF_SERVER_URL: server.url,
    SKIFF_TOKEN_ID: tokenId,
    SKIFF_TOKEN_SECRET: tokenSecret,
  });
  if (d.code !== 0) throw new Error(d.out);
  const sq = await Function_.lookup<Function_<(x: number) => Promise<number>>>("bench-map", "square", { client });
  await sq.map(Array.from({ length: 5000 }, (_, i) => i)).toArray(); // containers up

  /** One map; with `restartAt`, kill -9 and restart once that many outputs are in. */
  const run = async (restartAt?: number) => {
    let restartMs = 0;
    let restarting: Promise<void> | undefined;
    const t0 = performance.now();
    let n = 0;
    for await (const y of sq.map(
      (function* () {
        for (let i = 0; i < N; i++) yield i;
      })(),
    )) {
      if (y !== n * n) throw new Error(`wrong result at ${n}`);
      n++;
      if (restartAt !== undefined && n === restartAt) {
        restarting = (async () => {
          const k = performance.now();
          const exited = new Promise((r) => server.proc.once("exit", r));
          server.proc.kill("SIGKILL");
          await exited;
          server = await start(port);
          restartMs = performance.now() - k;
        })();
      }
    }
    await restarting;
    if (n !== N) throw new Error(`${n} outputs, not ${N}`);
    return { ms: performance.now() - t0, restartMs };
  };

  const base: number[] = [];
  const withRestart: number[] = [];
  const restart: number[] = [];
  const lost: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const b = await run();
    const k = await run(Math.floor(N / 2));
    // A restart loses the containers too: the next round starts after a warm-up like the first.
    await sq.map(Array.from({ length: 5000 }, (_, i) => i)).toArray();
    base.push(b.ms);
    withRestart.push(k.ms);
    restart.push(k.restartMs);
    lost.push(k.ms - b.ms);
    console.log(
      `round ${r + 1}: ${N} inputs ${(b.ms / 1000).toFixed(2)} s without a restart, ${(k.ms / 1000).toFixed(2)} s with one kill -9 (server away ${(k.restartMs / 1000).toFixed(2)} s): lost ${((k.ms - b.ms) / 1000).toFixed(2)} s`,
    );
  }
  const l = median(lost);
  const rs = median(restart);
  console.log(
    `map of ${N} inputs, medians of ${ROUNDS}: ${(median(base) / 1000).toFixed(2)} s without a restart, ${(median(withRestart) / 1000).toFixed(2)} s with one kill -9 restart; time lost ${(l / 1000).toFixed(2)} s, restart (kill to listening) ${(rs / 1000).toFixed(2)} s; lost − restart = ${((l - rs) / 1000).toFixed(2)} s (target ≤ 2 s: ${l - rs <= 2000 ? "met" : "NOT met"})`,
  );
} finally {
  client.close();
  server.proc.kill("SIGTERM");
  await new Promise((r) => server.proc.once("exit", r));
  rmSync(home, { recursive: true, force: true });
}
