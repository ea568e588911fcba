// Skiff's map alone (no peers), for profiling: BENCH_N inputs of x => x * x, maxContainers 2.
//   SKIFF_SERVER_NODE_OPTIONS=--cpu-prof node --import tsx bench/map-only.ts
import { mapSquares, warmSquare } from "./lib/map-squares.js";
import { cpuMs } from "./lib/proc-cpu.js";
import { descendants } from "./lib/proc-mem.js";
import { runCli, startSkiffServer } from "./lib/skiff-server.js";

const N = Number(process.env.BENCH_N ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** BENCH_DEFAULTS=1: the function with default options (one input at a time per container). */
const [APP_FILE, APP_NAME] =
  process.env.BENCH_DEFAULTS === "1"
    ? ["bench/apps/map-default.ts", "bench-map-default"]
    : ["bench/apps/map.ts", "bench-map"];
const server = await startSkiffServer();
try {
  const d = await runCli(["deploy", APP_FILE], server.env);
  if (d.code !== 0) throw new Error(d.out);
  const sq = await warmSquare(APP_NAME, server.client);
  const pid = server.proc.pid!;
  const usage = () => {
    const c = process.cpuUsage();
    return {
      server: cpuMs(pid),
      containers: descendants(pid).reduce((a, p) => a + cpuMs(p), 0),
      client: (c.user + c.system) / 1000,
    };
  };
  for (let r = 0; r < ROUNDS; r++) {
    const before = usage();
    const ms = await mapSquares(sq, N);
    const after = usage();
    const per = (k: keyof typeof before) => (((after[k] - before[k]) * 1000) / N).toFixed(1);
    console.log(
      `round ${r}: ${Math.round((N / ms) * 1000)} inputs/s; CPU µs per input: server ${per("server")}, client ${per("client")}, containers ${per("containers")}`,
    );
  }
  if (process.env.BENCH_STOP_APP) {
    // Containers exit on their own (profilers write their files on a clean exit).
    await runCli(["app", "stop", APP_NAME], server.env);
    await new Promise((r) => setTimeout(r, 3000));
  }
} finally {
  await server.stop();
}
