// Instructions per web request in the gateway's server (callgrind), for A/B on a loaded machine:
// CPU time per request moves 2x with the machine's load, instruction counts do not. The server
// runs under `valgrind --tool=callgrind` with instrumentation off; after a warm-up (JIT, container),
// it is switched on for BENCH_N requests (autocannon, BENCH_CONNECTIONS), then off, and
// the server's instructions (all its threads: JS, GC, I/O) are divided by the requests, and the
// main thread's apart: V8's concurrent compiler thread is still busy tens of thousands of
// requests in under valgrind (natively it is done after ~12 000), and its share moves with the
// warm-up and the load (bench/RESULTS.md, web lane of 2026-12-08). The containers run natively
// and are not counted. At 1 connection (BENCH_CONNECTIONS=1) each request has its own frames;
// at 10, how many share a frame depends on timing, and the count with it.
//   node --import tsx bench/web-callgrind.ts [checkout]   (default: this one)
//   node --import tsx bench/web-callgrind.ts hono | floor   (the same count for plain Hono, or
//   for the front process of the two-process floor, bench/lib/proxy-floor.ts: no Skiff in it)
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { REPO, runCli } from "./lib/skiff-server.js";

const arg = process.argv[2];
const peer = arg === "hono" || arg === "floor" ? arg : undefined;
const repo = peer ? REPO : (arg ?? REPO);
const N = Number(process.env.BENCH_N ?? 3000);
const WARM = Number(process.env.BENCH_WARM ?? 3000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
/**
 * Node flags for the server measured (BENCH_NODE_ARGS, space-separated), e.g.
 * `--no-concurrent-recompilation` (V8 compiles on the main thread, in step with the requests:
 * repeatable within a few %), or `--perf-basic-prof` with BENCH_KEEP: /tmp/perf-<pid>.map gives
 * each JIT function's address range and name, for the bare addresses (`0x…`) callgrind shows.
 */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);

const home = mkdtempSync(join(tmpdir(), "skiff-cg-"));
const out = join(home, "callgrind.out");
const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, SKIFF_CONFIG_PATH: join(home, "skiff.toml") };
for (const k of ["SKIFF_SERVER_URL", "SKIFF_TOKEN_ID", "SKIFF_TOKEN_SECRET", "SKIFF_PROFILE"]) delete env[k];
// A file per thread: the main thread's count is told apart from V8's background compiles,
// which run late under valgrind (tens of thousands of requests after the warm-up) and vary.
const valgrind = [
  "--tool=callgrind",
  "--instr-atstart=no",
  "--smc-check=all-non-file",
  "--separate-threads=yes",
  `--callgrind-out-file=${out}`,
];
const proc = peer
  ? spawn(
      "valgrind",
      [
        ...valgrind,
        process.execPath,
        ...NODE_ARGS,
        "--import",
        "tsx",
        join(REPO, `bench/lib/${peer === "hono" ? "hono-direct" : "proxy-floor"}.ts`),
      ],
      { env, stdio: ["ignore", "pipe", "pipe", "ipc"] },
    )
  : spawn(
      "valgrind",
      [
        ...valgrind,
        process.execPath,
        ...NODE_ARGS,
        join(repo, "packages/cli/bin/skiff.js"),
        "server",
        "--sandbox",
        "none",
        "--port",
        "0",
        "--data-dir",
        join(home, "data"),
      ],
      { env, stdio: ["ignore", "pipe", "pipe"] },
    );
const peerPort = new Promise<number>((r) => proc.once("message", (m) => r((m as { port: number }).port)));
let log = "";
proc.stdout!.on("data", (d) => (log += d));
proc.stderr!.on("data", (d) => (log += d));
/** Waits for the server, deploys the benchmark's endpoint, and returns its URL. */
async function skiffTarget(): Promise<string> {
  const url = await new Promise<string>((res, rej) => {
    const t = setInterval(() => {
      const m = /listening on (http:\/\/\S+)/.exec(log);
      if (m) {
        clearInterval(t);
        res(m[1]!);
      }
    }, 50);
    proc.once("exit", () => rej(new Error(log)));
  });
  const id = /SKIFF_TOKEN_ID=(\S+)/.exec(log)![1]!;
  const secret = /SKIFF_TOKEN_SECRET=(\S+)/.exec(log)![1]!;
  const cliEnv = { ...env, SKIFF_SERVER_URL: url, SKIFF_TOKEN_ID: id, SKIFF_TOKEN_SECRET: secret };
  const d = await runCli(["deploy", "bench/apps/web.ts"], cliEnv);
  if (d.code !== 0) throw new Error(d.out);
  return `${url}/web/bench-web/ping`;
}

try {
  const target = peer ? `http://127.0.0.1:${await peerPort}/` : await skiffTarget();
  await autocannon({ url: target, connections: CONNECTIONS, amount: WARM, timeout: 60 });
  const ctl = (...a: string[]) => {
    const c = spawnSync("callgrind_control", [...a, String(proc.pid)], { encoding: "utf8" });
    if (process.env.BENCH_KEEP) console.log(a.join(" "), c.stdout, c.stderr);
  };
  ctl("-z"); // nothing should be counted yet (instrumentation is off): be sure
  ctl("-i", "on");
  const r = await autocannon({ url: target, connections: CONNECTIONS, amount: N, timeout: 60 });
  ctl("-d");
  ctl("-i", "off");
  const n = r.requests.total;
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${r.non2xx} non-2xx, ${r.errors} errors`);
  await new Promise((res) => setTimeout(res, 1000));
  // The dump's totals, per thread (files `<out>.<part>-<thread>`; thread 01 is the main one):
  // instructions of every thread of the server since collection went on.
  let main = 0;
  let all = 0;
  for (const f of spawnSync("sh", ["-c", `ls ${out}*`], { encoding: "utf8" })
    .stdout.split("\n")
    .filter(Boolean)) {
    const m = /^totals: (\d+)/m.exec(readFileSync(f, "utf8"));
    if (!m) continue;
    all += Number(m[1]);
    if (f.endsWith("-01")) main += Number(m[1]);
  }
  const k = (ir: number) => `${(ir / n / 1000).toFixed(1)}k`;
  console.log(
    `web-callgrind ${peer ?? repo}: ${n} requests, instructions per request of the server ${k(all)} (main thread ${k(main)}, other threads ${k(all - main)}: V8's compiler, GC helpers, I/O)`,
  );
} finally {
  proc.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 2000));
  proc.kill("SIGKILL");
  if (!process.env.BENCH_KEEP) rmSync(home, { recursive: true, force: true });
  else console.log(home);
}
