// Throughput at the defaults a user runs (issue 16 item 2): `map` of x => x * x with default
// options on maxContainers 2 (one input at a time per container), beside the same function
// tuned to 128 inputs at once, in the same server and run. Rounds alternate between the two;
// medians are reported (every round is printed).
import { Function_ } from "skiff";
import { cpuMs } from "./lib/proc-cpu.js";
import { descendants } from "./lib/proc-mem.js";
import { runCli, startSkiffServer } from "./lib/skiff-server.js";

const N = Number(process.env.BENCH_N ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

type Square = Function_<(x: number) => Promise<number>>;

async function round(fn: Square): Promise<number> {
  function* inputs() {
    for (let i = 0; i < N; i++) yield i;
  }
  const t = performance.now();
  let n = 0;
  for await (const y of fn.map(inputs())) {
    if (y !== n * n) throw new Error(`wrong result at ${n}`);
    n++;
  }
  return rate(n, performance.now() - t);
}

const server = await startSkiffServer();
const defaults: number[] = [];
const tuned: number[] = [];
/** CPU µs per input of each process over the default-options rounds (load distorts it far less than wall time). */
const cpu = { server: 0, client: 0, containers: 0 };
function usage() {
  const pid = server.proc.pid!;
  const c = process.cpuUsage();
  return {
    server: cpuMs(pid),
    // The containers (and their sandboxes) are the server's descendants.
    containers: descendants(pid).reduce((a, p) => a + cpuMs(p), 0),
    client: (c.user + c.system) / 1000,
  };
}
try {
  for (const app of ["bench/apps/map-default.ts", "bench/apps/map.ts"]) {
    const d = await runCli(["deploy", app], server.env);
    if (d.code !== 0) throw new Error(d.out);
  }
  const client = server.client;
  const def = await Function_.lookup<Square>("bench-map-default", "square", { client });
  const tun = await Function_.lookup<Square>("bench-map", "square", { client });
  // Containers up and JIT-warm, as a deployed function's are after its first calls.
  for (const f of [def, tun]) await f.map(Array.from({ length: 20_000 }, (_, i) => i)).toArray();
  for (let r = 0; r < ROUNDS; r++) {
    const before = usage();
    defaults.push(await round(def));
    const after = usage();
    for (const k of ["server", "client", "containers"] as const) cpu[k] += after[k] - before[k];
    tuned.push(await round(tun));
  }
} finally {
  await server.stop();
}
const d = median(defaults);
const t = median(tuned);
console.log(`map-defaults: ${N} inputs of x => x * x, maxContainers 2, median of ${ROUNDS} rounds`);
console.log(`  default options (maxInputs 1)   ${d} inputs/s   (${defaults.join(", ")}; target: >= 100000)`);
console.log(`  tuned (maxInputs 128)           ${t} inputs/s   (${tuned.join(", ")})`);
console.log(`  defaults / tuned                ${(d / t).toFixed(2)}x`);
const per = (ms: number) => ((ms * 1000) / (N * ROUNDS)).toFixed(1);
console.log(
  `  CPU µs per input at defaults    server ${per(cpu.server)}, client ${per(cpu.client)}, containers ${per(cpu.containers)}, total ${per(cpu.server + cpu.client + cpu.containers)}`,
);
