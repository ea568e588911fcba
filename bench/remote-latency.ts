// Warm `.remote()` round trip, p50/p99, beside BullMQ + Redis (add -> completed) in the same run.
import { fork } from "node:child_process";
import { Queue, QueueEvents } from "bullmq";
import { Function_ } from "skiff";
import { startRedis } from "./lib/redis.js";
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
    const samples: number[] = [];
    for (let i = 0; i < N; i++) {
      const t = performance.now();
      const y = await square.remote(i);
      samples.push(performance.now() - t);
      if (y !== i * i) throw new Error("wrong result");
    }
    return summarize(samples);
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

const s = await skiffLatency();
const b = await bullmqLatency();
console.log(`remote-latency: ${N} sequential calls after ${WARMUP} warm-up`);
console.log(`  skiff  .remote()          p50 ${ms(s.p50)}  p99 ${ms(s.p99)}  mean ${ms(s.mean)}`);
console.log(`  bullmq add->completed     p50 ${ms(b.p50)}  p99 ${ms(b.p99)}  mean ${ms(b.mean)}`);
console.log(
  `  ratio bullmq/skiff        p50 ${(b.p50 / s.p50).toFixed(2)}x  p99 ${(b.p99 / s.p99).toFixed(2)}x   (target: skiff p50 <= 0.5 ms)`,
);
