// `skiff worker` processes for the benches (bench/workers.ts, bench/worker-start.ts): from the
// server's checkout (bench/ab.ts runs the baseline's server and workers together: the worker
// protocol must match), joined with a worker token.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import type { Client } from "skiff";
import { type BenchServer, runCli, SERVER_REPO } from "./skiff-server.js";

const BIN = join(SERVER_REPO, "packages/cli/bin/skiff.js");

/** Writes a worker token for `server` to `file`. */
export async function workerToken(server: BenchServer, file: string): Promise<void> {
  const t = await runCli(["token", "new", "--worker", "--output", file], server.env);
  if (t.code !== 0) throw new Error(t.out);
}

/** Starts worker `name` with its data in `dataDir`; `args`: more flags. Its log goes to stderr with BENCH_DEBUG=1. */
export function startWorker(
  server: BenchServer,
  tokenFile: string,
  name: string,
  dataDir: string,
  args: string[] = [],
): ChildProcess {
  const p = spawn(
    process.execPath,
    [
      BIN,
      "worker",
      "--server",
      server.url,
      "--token-file",
      tokenFile,
      "--name",
      name,
      "--data-dir",
      dataDir,
      "--sandbox",
      process.env.BENCH_SANDBOX ?? "auto",
      ...args,
    ],
    { env: server.env, stdio: ["ignore", "ignore", "pipe"] },
  );
  p.stderr!.on("data", (d: Buffer) => {
    if (process.env.BENCH_DEBUG) process.stderr.write(`[${name}] ${d}`);
  });
  return p;
}

/** Resolves once `n` workers are connected. */
export async function waitWorkers(client: Client, n: number): Promise<void> {
  for (;;) {
    const { workers } = await client.request("worker.list", {});
    if (workers.filter((w) => w.state === "connected").length >= n) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}
