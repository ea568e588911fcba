// Whether a burst's container starts wait for the CPU or for each other: the machine's busy cores
// and the bench cgroup's cores, sampled every SAMPLE_MS, beside the containers made ready in each
// slice of time. Cores near the machine's count while starts are pending: the starts are bound by
// CPU, and only a cheaper start (or fewer) makes them come faster; idle cores: by latency (the
// start pipeline's width, waits between its steps).
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

const SAMPLE_MS = 50;

interface Sample {
  at: number;
  /** Cores busy on the whole machine since the previous sample. */
  machine: number;
  /** Cores this cgroup used since the previous sample (NaN without a cgroup of its own). */
  mine: number;
}

function machineTicks(): { idle: number; total: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { idle: f[3]! + f[4]!, total: f.reduce((a, b) => a + b, 0) };
}

/** Starts sampling; the function it returns stops and gives the samples. */
export function startCpuTimeline(cgroupNs: () => number | undefined): () => Sample[] {
  const cores = availableParallelism();
  const samples: Sample[] = [];
  let prev = { ...machineTicks(), ns: cgroupNs() ?? Number.NaN, at: Date.now() };
  const timer = setInterval(() => {
    const now = { ...machineTicks(), ns: cgroupNs() ?? Number.NaN, at: Date.now() };
    const ticks = Math.max(1, now.total - prev.total);
    samples.push({
      at: now.at,
      machine: cores * (1 - (now.idle - prev.idle) / ticks),
      mine: (now.ns - prev.ns) / 1e6 / Math.max(1, now.at - prev.at),
    });
    prev = now;
  }, SAMPLE_MS);
  return () => {
    clearInterval(timer);
    return samples;
  };
}

/** One line per `sliceMs` from t0 to `end`: cores busy (machine, this cgroup), containers spawned and ready then. */
export function printCpuTimeline(
  samples: Sample[],
  t0: number,
  end: number,
  containers: { spawnAt: number; readyAt: number }[],
  sliceMs = 250,
): void {
  const f = (x: number) => (Number.isNaN(x) ? "  - " : x.toFixed(2));
  console.log(`    CPU timeline (cores busy: machine / this cgroup; ${availableParallelism()} cores):`);
  for (let a = t0; a < end; a += sliceMs) {
    const b = a + sliceMs;
    const inSlice = samples.filter((x) => x.at > a && x.at <= b);
    if (inSlice.length === 0) continue;
    const avg = (k: "machine" | "mine") => inSlice.reduce((s, x) => s + x[k], 0) / inSlice.length;
    const spawned = containers.filter((c) => c.spawnAt >= a && c.spawnAt < b).length;
    const ready = containers.filter((c) => c.readyAt >= a && c.readyAt < b).length;
    const starting = containers.filter((c) => c.spawnAt < b && c.readyAt >= b).length;
    console.log(
      `      ${((a - t0) / 1000).toFixed(2)} s  ${f(avg("machine"))} / ${f(avg("mine"))}  spawned ${String(spawned).padStart(2)}  ready ${String(ready).padStart(2)}  starting at its end ${starting}`,
    );
  }
}
