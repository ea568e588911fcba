import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "skiff";

export const REPO = resolve(fileURLToPath(new URL("../..", import.meta.url)));
/**
 * The checkout whose server, runtime and CLI run (SKIFF_BENCH_REPO): another checkout's build,
 * to compare it with this one in the same run (bench/ab.ts). Apps and the client stay this one's.
 */
export const SERVER_REPO = resolve(process.env.SKIFF_BENCH_REPO ?? REPO);
const BIN = join(SERVER_REPO, "packages/cli/bin/skiff.js");

export interface BenchServer {
  url: string;
  env: NodeJS.ProcessEnv;
  client: Client;
  /** The admin token, `<id>:<secret>`. */
  token: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** Starts the real `skiff server` as its own process, with a private home and data dir. */
export async function startSkiffServer(args: string[] = [], opts: { bin?: string } = {}): Promise<BenchServer> {
  const home = mkdtempSync(join(tmpdir(), "skiff-bench-"));
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, SKIFF_CONFIG_PATH: join(home, "skiff.toml") };
  for (const k of ["SKIFF_SERVER_URL", "SKIFF_TOKEN_ID", "SKIFF_TOKEN_SECRET", "SKIFF_PROFILE"]) delete env[k];
  // Extra node flags for the server process only (profiling: SKIFF_SERVER_NODE_ARGS=--cpu-prof).
  const nodeArgs = (process.env.SKIFF_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const proc = spawn(
    process.execPath,
    [
      ...nodeArgs,
      opts.bin ?? BIN,
      "server",
      "--sandbox",
      process.env.BENCH_SANDBOX ?? "auto",
      "--port",
      "0",
      "--data-dir",
      join(home, "data"),
      ...args,
    ],
    {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const url = await new Promise<string>((res, rej) => {
    const t = setInterval(() => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearInterval(t);
        res(m[1]!);
      }
    }, 20);
    proc.once("exit", () => rej(new Error(out)));
  });
  const tokenId = /SKIFF_TOKEN_ID=(\S+)/.exec(out)![1]!;
  const tokenSecret = /SKIFF_TOKEN_SECRET=(\S+)/.exec(out)![1]!;
  const client = new Client({ serverUrl: url, tokenId, tokenSecret, environment: "main" });
  return {
    url,
    env,
    client,
    token: `${tokenId}:${tokenSecret}`,
    proc,
    async stop() {
      client.close();
      proc.kill("SIGTERM");
      await new Promise((r) => proc.once("exit", r));
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Runs the real CLI to completion. */
export function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((res) => {
    const p = spawn(process.execPath, [BIN, ...args], { env, cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    p.on("close", (code) => res({ code, out }));
  });
}
