// Warm `.remote()` round trip, p50/p99, beside BullMQ + Redis (add -> completed) and beside the
// same four hops with no Skiff in them (bench/lib/relay-floor.ts), in the same run. By default
// each system runs alone, in turn (started, warmed up, timed, stopped), as the target is
// measured. BENCH_INTERLEAVE=1 (a loaded machine): all three stay up and take turns in blocks of
// calls, so that a load changing during the run weighs on each alike and the ratios hold. Not
// for a quiet machine: there the idle processes of the other two change how the VM wakes its
// vCPUs (Skiff's p50 0.27-0.30 ms interleaved beside BullMQ, 0.35-0.44 ms alone, same build).
import { fork } from "node:child_process";
import { join, resolve } from "node:path";
import { Queue, QueueEvents } from "bullmq";
import { Function_ } from "skiff";
import { cpuMsFine, treePids } from "./lib/proc-cpu.js";
import { startRedis } from "./lib/redis.js";
import { startRelayFloor } from "./lib/relay-floor.js";
import { runCli, startSkiffServer } from "./lib/skiff-server.js";
import { ms, summarize } from "./lib/stats.js";

const N = Number(process.env.BENCH_N ?? 3000);
const WARMUP = 500;
/** Calls per block; with BENCH_INTERLEAVE=1 the systems take turns block by block. */
const BLOCK = 100;

/** One system under test: a call, the processes whose CPU counts (by role), and a stop. */
interface Subject {
  name: string;
  call(x: number): Promise<unknown>;
  /** Result check: what call(x) must resolve to, where it is known. */
  expect?: (x: number) => unknown;
  pids: Record<string, number[]>;
  stop(): Promise<void>;
}

/**
 * BENCH_BASE=<checkout> (built): that checkout's server and runtime too (e.g. a worktree of
 * main), beside this one's, for an A/B in one run; with BENCH_INTERLEAVE=1 a load that changes
 * during the run weighs on both alike, which separate runs on a loaded machine do not give.
 */
const BASE = process.env.BENCH_BASE;

async function skiff(bin?: string, name = "skiff"): Promise<Subject> {
  const server = await startSkiffServer([], bin ? { bin } : {});
  try {
    const d = await runCli(["deploy", "bench/apps/trivial.ts"], server.env);
    if (d.code !== 0) throw new Error(d.out);
    const square = await Function_.lookup<Function_<(x: number) => Promise<number>>>("bench", "square", {
      client: server.client,
    });
    await square.remote(0); // its container runs from here on
    const serverPid = server.proc.pid!;
    return {
      name,
      call: (x) => square.remote(x),
      expect: (x) => x * x,
      pids: { server: [serverPid], containers: treePids(serverPid).filter((p) => p !== serverPid) },
      stop: () => server.stop(),
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

async function floor(): Promise<Subject> {
  const f = await startRelayFloor();
  return {
    name: "floor",
    call: (x) => f.call(x),
    expect: (x) => x * x,
    pids: { relay: [f.pids.relay], worker: [f.pids.worker] },
    stop: () => f.stop(),
  };
}

async function bullmq(): Promise<Subject> {
  const port = 16379 + Math.floor(Math.random() * 1000);
  const redis = await startRedis(port);
  const connection = { host: "127.0.0.1", port };
  const worker = fork(new URL("./lib/bullmq-worker.ts", import.meta.url), [String(port), "1"], {
    execArgv: ["--import", "tsx"],
  });
  await new Promise<void>((r) => worker.once("message", () => r()));
  const queue = new Queue("bench", { connection });
  const events = new QueueEvents("bench", { connection });
  await events.waitUntilReady();
  return {
    name: "bullmq",
    call: async (x) => {
      const job = await queue.add("sq", { x }, { removeOnComplete: 1000, removeOnFail: 1000 });
      return job.waitUntilFinished(events);
    },
    pids: { redis: [redis.pid], worker: [worker.pid!] },
    async stop() {
      await events.close();
      await queue.close();
      worker.kill("SIGTERM");
      await new Promise((r) => worker.once("exit", r));
      await redis.stop();
    },
  };
}

interface Tally {
  samples: number[];
  /** CPU ms by role, and the client's (this process) µs. */
  cpu: Record<string, number>;
}

async function block(s: Subject, t: Tally, from: number, n: number): Promise<void> {
  const before = Object.fromEntries(
    Object.entries(s.pids).map(([role, pids]) => [role, pids.reduce((a, p) => a + cpuMsFine(p), 0)]),
  );
  const client0 = process.cpuUsage();
  for (let i = from; i < from + n; i++) {
    const start = performance.now();
    const y = await s.call(i);
    t.samples.push(performance.now() - start);
    if (s.expect && y !== s.expect(i)) throw new Error(`${s.name}: wrong result for ${i}: ${String(y)}`);
  }
  const c = process.cpuUsage(client0);
  t.cpu.client = (t.cpu.client ?? 0) + (c.user + c.system) / 1000;
  for (const [role, pids] of Object.entries(s.pids))
    t.cpu[role] = (t.cpu[role] ?? 0) + pids.reduce((a, p) => a + cpuMsFine(p), 0) - before[role]!;
}

// BENCH_SKIFF_ONLY=1: Skiff and its floor only (profiling, A/B rounds of Skiff's side only).
const makers: (() => Promise<Subject>)[] = process.env.BENCH_SKIFF_ONLY ? [skiff, floor] : [skiff, floor, bullmq];
if (BASE) makers.push(() => skiff(join(resolve(BASE), "packages/cli/bin/skiff.js"), "base"));
const interleave = process.env.BENCH_INTERLEAVE === "1";
const subjects: Subject[] = [];
const tallies: Tally[] = makers.map(() => ({ samples: [], cpu: {} }));
try {
  if (interleave) {
    for (const make of makers) subjects.push(await make());
    for (const s of subjects) for (let i = 0; i < WARMUP; i++) await s.call(i);
    for (let done = 0, b = 0; done < N; done += BLOCK, b++) {
      const n = Math.min(BLOCK, N - done);
      // Each block starts with another system, so none always follows the same one.
      for (let k = 0; k < subjects.length; k++) {
        const j = (b + k) % subjects.length;
        await block(subjects[j]!, tallies[j]!, done, n);
      }
    }
  } else {
    for (const [j, make] of makers.entries()) {
      const s = await make();
      subjects.push(s);
      for (let i = 0; i < WARMUP; i++) await s.call(i);
      await block(s, tallies[j]!, 0, N);
      subjects.pop();
      await s.stop();
    }
  }
  const r = tallies.map((t) => ({ ...summarize(t.samples), cpu: t.cpu }));
  const sk = r[0];
  const fl = r[1];
  const bq = process.env.BENCH_SKIFF_ONLY ? undefined : r[2];
  const base = BASE ? r[r.length - 1] : undefined;
  const perCall = (cpu: Record<string, number>) =>
    Object.entries(cpu)
      .map(([role, msTotal]) => `${role} ${((msTotal * 1000) / N).toFixed(0)} us`)
      .join("  ");
  const total = (cpu: Record<string, number>) =>
    ((Object.values(cpu).reduce((a, b) => a + b, 0) * 1000) / N).toFixed(0);
  console.log(
    `remote-latency: ${N} sequential calls after ${WARMUP} warm-up, ${interleave ? `in alternating blocks of ${BLOCK}` : "each system alone in turn"}`,
  );
  console.log(`  skiff  .remote()          p50 ${ms(sk!.p50)}  p99 ${ms(sk!.p99)}  mean ${ms(sk!.mean)}`);
  console.log(`  skiff CPU per call        ${perCall(sk!.cpu)}  total ${total(sk!.cpu)} us`);
  console.log(
    `  floor (4 hops, no Skiff)  p50 ${ms(fl!.p50)}  p99 ${ms(fl!.p99)}  mean ${ms(fl!.mean)}   skiff - floor p50 ${ms(sk!.p50 - fl!.p50)}`,
  );
  console.log(`  floor CPU per call        ${perCall(fl!.cpu)}  total ${total(fl!.cpu)} us`);
  if (base) {
    console.log(
      `  base   .remote()          p50 ${ms(base.p50)}  p99 ${ms(base.p99)}  mean ${ms(base.mean)}   (${BASE})`,
    );
    console.log(`  base CPU per call         ${perCall(base.cpu)}  total ${total(base.cpu)} us`);
    const ratio = (k: string) => (base.cpu[k] ? (sk!.cpu[k] ?? 0) / base.cpu[k]! : Number.NaN).toFixed(3);
    console.log(
      `  ratio skiff/base          p50 ${(sk!.p50 / base.p50).toFixed(3)}x  CPU client ${ratio("client")}x  server ${ratio("server")}x  containers ${ratio("containers")}x`,
    );
  }
  if (bq) {
    console.log(`  bullmq add->completed     p50 ${ms(bq.p50)}  p99 ${ms(bq.p99)}  mean ${ms(bq.mean)}`);
    console.log(`  bullmq CPU per call       ${perCall(bq.cpu)}  total ${total(bq.cpu)} us`);
    console.log(
      `  ratio skiff/bullmq        p50 ${(sk!.p50 / bq.p50).toFixed(2)}x  p99 ${(sk!.p99 / bq.p99).toFixed(2)}x   (target: skiff p50 <= 0.35 ms and <= 0.5x bullmq)`,
    );
  }
} finally {
  for (const s of subjects) await s.stop();
}
