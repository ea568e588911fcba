// What starting a container costs the server's own process (issue 16 item 1): its CPU and how
// long its event loop is held, per container start, from a server whose heap is BENCH_HEAP_MIB
// (a fork copies the forking process's page tables, so the cost grows with its size). The
// provider runs in this process, as in the server; containers are the real sandboxed runtimes,
// pointed at a socket that accepts and holds their connection. CPU is this process's only
// (children not counted), so a loaded machine distorts it far less than wall time.
//   BENCH_N=40 BENCH_HEAP_MIB=400 node --import tsx bench/spawn-block.ts

import cp from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";

// Every spawn this process makes, timed (it holds the event loop until the child has exec'd).
const spawned = { n: 0, ms: 0, max: 0 };
const realSpawn = cp.spawn;
cp.spawn = ((...a: Parameters<typeof cp.spawn>) => {
  const s = performance.now();
  const c = realSpawn(...a);
  const ms = performance.now() - s;
  spawned.n++;
  spawned.ms += ms;
  spawned.max = Math.max(spawned.max, ms);
  return c;
}) as typeof cp.spawn;
syncBuiltinESMExports();
const { LocalProvider } = await import("@skiff/worker");

const N = Number(process.env.BENCH_N ?? 40);
const HEAP_MIB = Number(process.env.BENCH_HEAP_MIB ?? 400);
// Ballast: a server's heap after a while (its store caches, parsed apps).
const ballast: number[][] = [];
for (let i = 0; i < HEAP_MIB; i++) ballast.push(new Array(128 * 1024).fill(i));

const dir = mkdtempSync(join(tmpdir(), "skiff-spawn-block-"));
const sock = join(dir, "control.sock");
const conns = new Set<Socket>();
const server = createServer((c) => {
  conns.add(c);
  c.on("error", () => {});
});
await new Promise<void>((r) => server.listen(sock, r));
// Containers run as another user (a root server's `nobody`).
chmodSync(dir, 0o755);
chmodSync(sock, 0o666);
const provider = new LocalProvider({ controlSocket: sock, warmPool: 0, log: () => {} });
// The command helper (and NAT spares) settle before anything is measured.
await new Promise((r) => setTimeout(r, 1500));

const rss = Math.round(process.memoryUsage().rss / 2 ** 20);
const h = monitorEventLoopDelay({ resolution: 1 });
const exits: Promise<void>[] = [];
const spawned0 = { ...spawned };
let syncMs = 0;
h.enable();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const handles = [];
for (let i = 0; i < N; i++) {
  let done!: () => void;
  exits.push(new Promise<void>((r) => (done = r)));
  const s = performance.now();
  const p = provider.start(
    { containerId: `ct-${i}`, controlSocket: sock, environment: "main", token: "t:s", env: {} } as never,
    {
      onOutput: (_s: string, t: string) => process.env.BENCH_DEBUG && process.stderr.write(t),
      onExit: () => done(),
    } as never,
  );
  syncMs += performance.now() - s;
  handles.push(await p);
  // Starts as a fan-out makes them: a few ms apart, the loop free between them.
  await new Promise((r) => setTimeout(r, 5));
}
// Until every container's runtime has connected (it has started and is running).
while (conns.size < N && performance.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 10));
const cpu = process.cpuUsage(cpu0);
h.disable();
console.log(`server rss ${rss} MiB, ${N} container starts, ${conns.size} connected, loaded machine`);
console.log(
  `  server CPU per start: ${((cpu.user + cpu.system) / 1000 / N).toFixed(2)} ms (user ${(cpu.user / 1000 / N).toFixed(2)}, sys ${(cpu.system / 1000 / N).toFixed(2)})`,
);
console.log(`  sync time in start() per start: ${(syncMs / N).toFixed(2)} ms`);
console.log(
  `  event loop delay: max ${(h.max / 1e6).toFixed(1)} ms, p99 ${(h.percentile(99) / 1e6).toFixed(1)} ms, mean ${(h.mean / 1e6).toFixed(2)} ms`,
);
console.log(
  `  spawn() in this process: ${spawned.n - spawned0.n} calls, ${(spawned.ms - spawned0.ms).toFixed(1)} ms in all (longest ${spawned.max.toFixed(1)} ms)`,
);
for (const hd of handles) hd.kill();
for (const c of conns) c.destroy();
await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 10_000))]);
await provider.close();
server.close();
rmSync(dir, { recursive: true, force: true });
void ballast.length;
