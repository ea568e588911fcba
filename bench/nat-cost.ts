// What a container's outbound NAT costs the machine (issue 16 item 1): each NAT Skiff can use
// (slirp4netns, pasta) connects BENCH_N namespaces, alternating, through NatNetwork as the
// provider does (name, NAT, host fence; then removal). CPU is read from a cpuacct cgroup this
// process moves into first, so it counts every process involved, the NAT daemons included, and
// holds on a loaded machine (wall time does not). Needs root, cgroup v1 cpuacct, both NATs.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CommandHelper } from "@skiff/worker";
import { NatNetwork } from "../packages/worker/src/sandbox/network.js";

const N = Number(process.env.BENCH_N ?? 20);

const CG = `/sys/fs/cgroup/cpuacct/skiff-nat-bench-${process.pid}`;
if (!existsSync("/sys/fs/cgroup/cpuacct")) throw new Error("nat-cost needs cgroup v1's cpuacct hierarchy");
mkdirSync(CG);
writeFileSync(join(CG, "cgroup.procs"), String(process.pid));
const usageMs = () => Number(readFileSync(join(CG, "cpuacct.usage"), "utf8")) / 1e6;

const kinds = ["slirp4netns", "pasta"] as const;
const helper = new CommandHelper();
const nats = kinds.map((k) => {
  const { nat, why } = NatNetwork.detect(helper, k);
  if (!nat || nat.backend.kind !== k) throw new Error(`${k}: ${why ?? "not chosen"}`);
  return nat;
});
const cpu: Record<string, number[]> = { slirp4netns: [], pasta: [] };
const wall: Record<string, number[]> = { slirp4netns: [], pasta: [] };
const rss: Record<string, number[]> = { slirp4netns: [], pasta: [] };

/** One namespace: a holder process's own (as bubblewrap's), NAT attached, then all removed. */
async function once(i: number): Promise<void> {
  const nat = nats[i]!;
  const holder = spawn("unshare", ["-n", "sleep", "30"], { stdio: "ignore" });
  await new Promise((r) => setTimeout(r, 30)); // unshare has made the namespace
  const c0 = usageMs();
  const t = performance.now();
  const remove = await nat.attach(holder.pid!);
  wall[kinds[i]!]!.push(performance.now() - t);
  rss[kinds[i]!]!.push(natRssKiB(kinds[i]!));
  holder.kill("SIGKILL");
  await remove();
  cpu[kinds[i]!]!.push(usageMs() - c0);
}

/** Resident KiB of the one NAT process of that kind running now. */
function natRssKiB(kind: string): number {
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      // pasta may run as pasta.avx2 (or passt), by the CPU.
      if (!readFileSync(`/proc/${pid}/comm`, "utf8").startsWith(kind === "pasta" ? "pas" : kind)) continue;
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) return Number(m[1]);
    } catch {}
  }
  return Number.NaN;
}

// Closed, a NatNetwork makes no spares and removes a namespace at once (no quiet-time wait).
for (const nat of nats) await nat.close();
try {
  for (let r = 0; r < N; r++) for (const i of r % 2 === 0 ? [0, 1] : [1, 0]) await once(i);
} finally {
  helper.close();
  writeFileSync("/sys/fs/cgroup/cpuacct/cgroup.procs", String(process.pid));
  // Its last processes (a NAT just signalled, the holders) may take a moment to go.
  for (let i = 0; i < 50; i++)
    try {
      rmdirSync(CG);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
console.log(`nat-cost: a namespace connected and removed, ${N} each, alternating (CPU of every process, cpuacct)`);
for (const k of kinds)
  console.log(
    `  ${k.padEnd(12)} CPU ${median(cpu[k]!).toFixed(1).padStart(6)} ms   wall to ready ${median(wall[k]!).toFixed(1).padStart(6)} ms   NAT resident ${(median(rss[k]!) / 1024).toFixed(1)} MiB`,
  );
console.log(
  `  ratio slirp4netns / pasta: CPU ${(median(cpu.slirp4netns!) / median(cpu.pasta!)).toFixed(2)}x, wall ${(median(wall.slirp4netns!) / median(wall.pasta!)).toFixed(2)}x`,
);
