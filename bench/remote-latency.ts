// Warm `.remote()` round trip, p50/p99, beside BullMQ + Redis (add -> completed) in the same run.
import { fork } from "node:child_process";
import { Queue, QueueEvents } from "bullmq";
import { Function_ } from "skiff";
import { cpuMs, treePids } from "./lib/proc-cpu.js";
import { startRedis } from "./lib/redis.js";
import { startRelayFloor } from "./lib/relay-floor.js";
import { runCli, startSkiffServer } from "./lib/skiff-server.js";
import { ms, summarize } from "./lib/stats.js";

const N = Number(process.env.BENCH_N ?? 3000);
const WARMUP = 500;

async function skiffLatency() {
  const server = await startSkiffServer();
  try {
    const d = await runCli(["deploy", "bench/apps/trivial.ts"], server.env);
    if (d.code !== 0) throw new Error(d.out);
    const square = await Function_.lookup<Function_<(x: number) => Promise<number>>>("bench", "square", {
      client: server.client,
    });
    for (let i = 0; i < WARMUP; i++) await square.remote(i);
    // CPU per call of each side (/proc, 10 ms ticks; the client's from Node): on a loaded
    // machine these move much less than wall-clock latency does.
    const serverPid = server.proc.pid!;
    const others = treePids(serverPid).filter((p) => p !== serverPid);
    const server0 = cpuMs(serverPid);
    const others0 = others.map(cpuMs);
    const client0 = process.cpuUsage();
    const samples: number[] = [];
    for (let i = 0; i < N; i++) {
      const t = performance.now();
      const y = await square.remote(i);
      samples.push(performance.now() - t);
      if (y !== i * i) throw new Error("wrong result");
    }
    const clientCpu = process.cpuUsage(client0);
    const cpu = {
      server: ((cpuMs(serverPid) - server0) * 1000) / N,
      containers: (others.reduce((a, p, i) => a + cpuMs(p) - others0[i]!, 0) * 1000) / N,
      client: (clientCpu.user + clientCpu.system) / N,
    };
    return { ...summarize(samples), cpu };
  } finally {
    await server.stop();
  }
}

async function bullmqLatency() {
  const port = 16379 + Math.floor(Math.random() * 1000);
  const redis = await startRedis(port);
  const connection = { host: "127.0.0.1", port };
  const worker = fork(new URL("./lib/bullmq-worker.ts", import.meta.url), [String(port), "1"], {
    execArgv: ["--import", "tsx"],
  });
  try {
    await new Promise<void>((r) => worker.once("message", () => r()));
    const queue = new Queue("bench", { connection });
    const events = new QueueEvents("bench", { connection });
    await events.waitUntilReady();
    const one = async (x: number) => {
      const job = await queue.add("sq", { x }, { removeOnComplete: 1000, removeOnFail: 1000 });
      return job.waitUntilFinished(events);
    };
    for (let i = 0; i < WARMUP; i++) await one(i);
    const samples: number[] = [];
    for (let i = 0; i < N; i++) {
      const t = performance.now();
      await one(i);
      samples.push(performance.now() - t);
    }
    await events.close();
    await queue.close();
    return summarize(samples);
  } finally {
    worker.kill("SIGTERM");
    await new Promise((r) => worker.once("exit", r));
    await redis.stop();
  }
}

/** The same four hops with no Skiff in them (bench/lib/relay-floor.ts): what Skiff adds is the difference. */
async function floorLatency() {
  const f = await startRelayFloor();
  try {
    for (let i = 0; i < WARMUP; i++) await f.call(i);
    const relay0 = cpuMs(f.pids.relay);
    const worker0 = cpuMs(f.pids.worker);
    const client0 = process.cpuUsage();
    const samples: number[] = [];
    for (let i = 0; i < N; i++) {
      const t = performance.now();
      const y = await f.call(i);
      samples.push(performance.now() - t);
      if (y !== i * i) throw new Error("wrong result from the floor");
    }
    const clientCpu = process.cpuUsage(client0);
    const cpu = {
      relay: ((cpuMs(f.pids.relay) - relay0) * 1000) / N,
      worker: ((cpuMs(f.pids.worker) - worker0) * 1000) / N,
      client: (clientCpu.user + clientCpu.system) / N,
    };
    return { ...summarize(samples), cpu };
  } finally {
    await f.stop();
  }
}

const s = await skiffLatency();
const floor = await floorLatency();
// BENCH_SKIFF_ONLY=1: Skiff alone (profiling, A/B rounds of Skiff's side only).
const b = process.env.BENCH_SKIFF_ONLY ? undefined : await bullmqLatency();
console.log(`remote-latency: ${N} sequential calls after ${WARMUP} warm-up`);
console.log(`  skiff  .remote()          p50 ${ms(s.p50)}  p99 ${ms(s.p99)}  mean ${ms(s.mean)}`);
console.log(
  `  skiff CPU per call        server ${s.cpu.server.toFixed(0)} us  containers ${s.cpu.containers.toFixed(0)} us  client ${s.cpu.client.toFixed(0)} us  total ${(s.cpu.server + s.cpu.containers + s.cpu.client).toFixed(0)} us`,
);
console.log(
  `  floor (4 hops, no Skiff)  p50 ${ms(floor.p50)}  p99 ${ms(floor.p99)}  mean ${ms(floor.mean)}   skiff - floor p50 ${ms(s.p50 - floor.p50)}`,
);
console.log(
  `  floor CPU per call        relay ${floor.cpu.relay.toFixed(0)} us  worker ${floor.cpu.worker.toFixed(0)} us  client ${floor.cpu.client.toFixed(0)} us  total ${(floor.cpu.relay + floor.cpu.worker + floor.cpu.client).toFixed(0)} us`,
);
if (b) {
  console.log(`  bullmq add->completed     p50 ${ms(b.p50)}  p99 ${ms(b.p99)}  mean ${ms(b.mean)}`);
  console.log(
    `  ratio skiff/bullmq        p50 ${(s.p50 / b.p50).toFixed(2)}x  p99 ${(s.p99 / b.p99).toFixed(2)}x   (target: skiff p50 <= 0.35 ms and <= 0.5x bullmq)`,
  );
}
