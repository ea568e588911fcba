// Cold fan-out (issue 16 item 1): seed 001's shape, N concurrent `.remote()` calls of an async
// function with default options from zero containers, timed to the last result. Run twice in
// one go: with containers started all at once (SKIFF_START_CONCURRENCY=0, the old behaviour) and
// with the default bounded start concurrency. Each result names its container, so the run also
// says how many containers were started and where their time went.
import { existsSync, readFileSync } from "node:fs";
import { bundleApp, loadApps, publishApp } from "@skiff/cli";
import type { Function_ } from "skiff";
import { printCpuTimeline, startCpuTimeline } from "./lib/cpu-timeline.js";
import { startSkiffServer } from "./lib/skiff-server.js";

interface Info {
  id: string;
  /** When the call started running in its container (absent from an older app build). */
  startedAt?: number;
  processStart: number;
  loadedAt: number;
  /** Absent from an older runtime's app build (bench/ab.ts runs this app on both sides). */
  cpuMsAtLoad?: number;
  /** CPU of the container's process when the call ended (absent from an older app build). */
  cpuMsAtEnd?: number;
}
interface Shape {
  name: string;
  fn: string;
  n: number;
  target: number;
}
const SHAPES: Shape[] = [
  { name: "100 x 1 s", fn: "sleep1s", n: Number(process.env.BENCH_N ?? 100), target: 3000 },
  { name: "1000 x 10 ms", fn: "sleep10ms", n: Number(process.env.BENCH_N_SHORT ?? 1000), target: 5000 },
];
const ALL_MODES = [
  { name: "all at once (before)", concurrency: "0" },
  { name: "bounded (after)", concurrency: process.env.SKIFF_START_CONCURRENCY ?? "" },
];
/** BENCH_FANOUT_BOUNDED_ONLY=1: only the default (bounded) mode, e.g. to compare two builds (bench/ab.ts). */
const MODES = process.env.BENCH_FANOUT_BOUNDED_ONLY === "1" ? ALL_MODES.slice(1) : ALL_MODES;
/** BENCH_FANOUT_TABLE=1: a line per container, and the burst's CPU timeline (bench/lib/cpu-timeline.ts). */
const TABLE = process.env.BENCH_FANOUT_TABLE === "1";

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : Number.NaN;
};
const s = (msv: number) => `${(msv / 1000).toFixed(2)} s`;

/**
 * CPU used so far by everything in this process's cgroup (this client, the server it starts,
 * containers, pasta: all inherit it), ns; undefined where that cgroup is the whole machine (run
 * the bench in a cgroup of its own to get the figure; on a shared machine it is the one that
 * load does not swamp).
 */
function cgroupCpuNs(): number | undefined {
  try {
    for (const line of readFileSync("/proc/self/cgroup", "utf8").split("\n")) {
      const [, ctrls, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
      if (!path || path === "/") continue;
      if (ctrls!.split(",").includes("cpuacct")) {
        const dir = ["cpuacct", "cpu,cpuacct"].map((d) => `/sys/fs/cgroup/${d}${path}`).find((d) => existsSync(d));
        if (dir) return Number(readFileSync(`${dir}/cpuacct.usage`, "utf8"));
      }
      if (ctrls === "") {
        const m = /usage_usec (\d+)/.exec(readFileSync(`/sys/fs/cgroup${path}/cpu.stat`, "utf8"));
        if (m) return Number(m[1]) * 1000;
      }
    }
  } catch {}
  return undefined;
}

/**
 * Where the starts went: inputs run per container, containers that ran none (started for
 * the burst but ready only once the queue was drained), and how many were ready only in
 * the last second before it drained. BENCH_FANOUT_TABLE=1: one line per container.
 */
function printStarts(out: (Info & { startedAt?: number })[], listed: number, t0: number): void {
  const per = new Map<string, { c: Info; n: number; first: number; last: number }>();
  for (const r of out) {
    const at = (r.startedAt ?? Number.NaN) - t0;
    const e = per.get(r.id);
    if (!e) per.set(r.id, { c: r, n: 1, first: at, last: at });
    else {
      e.n++;
      e.first = Math.min(e.first, at);
      e.last = Math.max(e.last, at);
    }
  }
  const rows = [...per.values()].sort((a, b) => a.c.processStart - b.c.processStart);
  // When the last input started somewhere: the queue was empty from then on.
  const drained = Math.max(...rows.map((r) => r.last));
  const hist = new Map<string, number>();
  for (const r of rows) {
    const k = r.n >= 4 ? "4+" : String(r.n);
    hist.set(k, (hist.get(k) ?? 0) + 1);
  }
  const readyLate = rows.filter((r) => r.c.loadedAt - t0 > drained - 1000);
  console.log(
    `    inputs per container: ${["1", "2", "3", "4+"].map((k) => `${k}: ${hist.get(k) ?? 0}`).join(", ")};  started, ran none: ${Math.max(0, listed - rows.length)};  last input started ${s(drained)};  ready in the second before that: ${readyLate.length} (inputs ${readyLate.map((r) => r.n).join(" ") || "-"})`,
  );
  // Inputs not yet started when a container was spawned, and when it was ready.
  const waiting = (at: number) => out.filter((r) => (r.startedAt ?? 0) - t0 > at).length;
  if (TABLE)
    for (const r of rows)
      console.log(
        `      ${r.c.id.padEnd(20)} spawn ${s(r.c.processStart - t0)}  ready ${s(r.c.loadedAt - t0)}  inputs ${String(r.n).padStart(3)}  first ${s(r.first)}  last ${s(r.last)}  not started at spawn ${waiting(r.c.processStart - t0)}, at ready ${waiting(r.c.loadedAt - t0)}`,
      );
}

const bundle = await bundleApp("bench/apps/fanout.ts");
const totals = new Map<string, number[]>();
for (const mode of MODES) {
  if (mode.concurrency) process.env.SKIFF_START_CONCURRENCY = mode.concurrency;
  else delete process.env.SKIFF_START_CONCURRENCY;
  // BENCH_SERVER_ARGS: flags for the server (e.g. "--warm-pool 8").
  const server = await startSkiffServer((process.env.BENCH_SERVER_ARGS ?? "").split(" ").filter(Boolean));
  try {
    for (const shape of SHAPES) {
      // A fresh ephemeral app: its function has no container (the provider's warm pool of
      // pre-started runtimes is there, as it is for a user).
      const [app] = await loadApps(bundle);
      const res = await publishApp(server.client, app!, bundle, "ephemeral", "main");
      const f = app!._function(shape.fn)! as unknown as Function_<() => Promise<Info>>;
      const t0 = Date.now();
      const cpu0 = cgroupCpuNs();
      const stopTimeline = TABLE ? startCpuTimeline(cgroupCpuNs) : undefined;
      const firstDone: number[] = [];
      // Settled, not all: under load, starting every container at once can run past the
      // startup timeout, and the calls then fail; the run reports that instead of stopping.
      const settled = await Promise.allSettled(
        Array.from({ length: shape.n }, () =>
          f.remote().then((r) => {
            firstDone.push(Date.now() - t0);
            return r;
          }),
        ),
      );
      const total = Date.now() - t0;
      const cpu1 = cgroupCpuNs();
      const timeline = stopTimeline?.();
      // The server's containers of this function now (before the app stops): those that ran
      // no input are in no result.
      const listed = (await server.client.request("container.list", { environment: "main" })).containers.filter(
        (c) => c.appId === res.appId && c.functionName === shape.fn,
      );
      const out = settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
      const failed = settled.flatMap((r) => (r.status === "rejected" ? [(r.reason as Error).message] : []));
      if (failed.length > 0)
        console.log(`    ${failed.length} of ${shape.n} calls FAILED (first: ${failed[0]!.slice(0, 160)})`);
      const byPid = new Map<string, Info>();
      for (const r of out) byPid.set(r.id, r);
      const cts = [...byPid.values()];
      // Containers started for this burst (pooled runtimes started earlier are counted apart).
      const fresh = cts.filter((c) => c.processStart >= t0 - 50);
      const readyAt = cts.map((c) => Math.max(0, c.loadedAt - t0));
      const load = fresh.map((c) => c.loadedAt - c.processStart);
      const spawnAt = fresh.map((c) => c.processStart - t0);
      totals.set(`${mode.name}|${shape.name}`, [...(totals.get(`${mode.name}|${shape.name}`) ?? []), total]);
      console.log(
        `${mode.name.padEnd(22)} ${shape.name.padEnd(13)} total ${s(total).padStart(8)} (target <= ${s(shape.target)})  containers ${cts.length} (${cts.length - fresh.length} from the warm pool)`,
      );
      console.log(
        `    process spawned after call: p50 ${s(pct(spawnAt, 50))}, last ${s(Math.max(0, ...spawnAt))};  spawn -> bundle loaded (process, sandbox, runtime, bundle): p50 ${s(pct(load, 50))}, max ${s(Math.max(0, ...load))}`,
      );
      if (cpu0 !== undefined && cpu1 !== undefined)
        console.log(
          `    CPU during the burst, this cgroup (client, server, containers, NAT): ${((cpu1 - cpu0) / 1e6).toFixed(0)} ms, ${((cpu1 - cpu0) / 1e6 / Math.max(1, cts.length)).toFixed(1)} ms per container`,
        );
      const cpu = fresh.flatMap((c) => (c.cpuMsAtLoad === undefined ? [] : [c.cpuMsAtLoad]));
      // Per container, from bundle loaded to its last call's end: what running the inputs cost it.
      const lastEnd = new Map<string, number>();
      for (const r of out)
        if (r.cpuMsAtEnd !== undefined) lastEnd.set(r.id, Math.max(lastEnd.get(r.id) ?? 0, r.cpuMsAtEnd));
      const running = fresh.flatMap((c) => {
        const e = lastEnd.get(c.id);
        return e === undefined || c.cpuMsAtLoad === undefined ? [] : [e - c.cpuMsAtLoad];
      });
      if (cpu.length > 0)
        console.log(
          `    runtime CPU from process start to bundle loaded (fresh containers, ms): p50 ${pct(cpu, 50).toFixed(1)}, p90 ${pct(cpu, 90).toFixed(1)}${running.length > 0 ? `;  then to its last call's end: p50 ${pct(running, 50).toFixed(1)}, p90 ${pct(running, 90).toFixed(1)}` : ""}`,
        );
      console.log(
        `    containers ready: first ${s(Math.min(Infinity, ...readyAt))}, p50 ${s(pct(readyAt, 50))}, last ${s(Math.max(...readyAt))};  first result ${s(Math.min(...firstDone))}`,
      );
      printStarts(out, listed.length, t0);
      if (timeline)
        printCpuTimeline(
          timeline,
          t0,
          t0 + total,
          cts.map((c) => ({ spawnAt: c.processStart, readyAt: c.loadedAt })),
        );
      await server.client.request("app.stop", { appId: res.appId, environment: "main" });
      // Let the stopped containers exit before the next burst (they are CPU this burst would pay for).
      await new Promise((r) => setTimeout(r, 3000));
    }
  } finally {
    await server.stop();
  }
}
for (const shape of MODES.length === 2 ? SHAPES : []) {
  const before = totals.get(`${MODES[0]!.name}|${shape.name}`)![0]!;
  const after = totals.get(`${MODES[1]!.name}|${shape.name}`)![0]!;
  console.log(`ratio ${shape.name}: before / after ${(before / after).toFixed(2)}x  (${s(before)} -> ${s(after)})`);
}
