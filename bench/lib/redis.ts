import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Starts a throwaway redis-server on a free loopback port (no persistence). */
export async function startRedis(
  port: number,
  extraArgs: string[] = [],
): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  try {
    execFileSync("redis-server", ["--version"]);
  } catch {
    throw new Error("redis-server is not installed: bench/run.sh installs it (apt-get install redis-server)");
  }
  const dir = mkdtempSync(join(tmpdir(), "skiff-bench-redis-"));
  const proc: ChildProcess = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, ...extraArgs],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  await new Promise<void>((res, rej) => {
    const t = setInterval(() => {
      if (/Ready to accept connections/.test(out)) {
        clearInterval(t);
        res();
      }
    }, 20);
    proc.once("exit", () => rej(new Error(`redis-server exited: ${out}`)));
  });
  return {
    port,
    pid: proc.pid!,
    async stop() {
      proc.kill("SIGTERM");
      await new Promise((r) => proc.once("exit", r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
