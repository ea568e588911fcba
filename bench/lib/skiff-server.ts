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
  /** Its private home (the data dir is `<home>/data`). */
  home: string;
  /** SIGTERM, wait for the exit, remove the home. */
  stop(): Promise<void>;
  /** kill -9 and wait for the exit; the home stays (start again with `{ reuse: this }`). */
  kill(): Promise<void>;
}

export interface StartOptions {
  /** Another checkout's CLI. */
  bin?: string;
  /**
   * A server of this run, stopped with kill(): start again on its home, data and port (a
   * restart: no new admin token is printed, its token goes on). Its client is not reused.
   */
  reuse?: BenchServer;
}

/** Starts the real `skiff server` as its own process, with a private home and data dir. */
export async function startSkiffServer(args: string[] = [], opts: StartOptions = {}): Promise<BenchServer> {
  const home = opts.reuse?.home ?? mkdtempSync(join(tmpdir(), "skiff-bench-"));
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, SKIFF_CONFIG_PATH: join(home, "skiff.toml") };
  for (const k of ["SKIFF_SERVER_URL", "SKIFF_TOKEN_ID", "SKIFF_TOKEN_SECRET", "SKIFF_PROFILE"]) delete env[k];
  const port = opts.reuse ? new URL(opts.reuse.url).port : "0";
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
      port,
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
  // Polled often: a restart's time (kill to listening) is measured by this.
  const url = await new Promise<string>((res, rej) => {
    const t = setInterval(() => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearInterval(t);
        res(m[1]!);
      }
    }, 5);
    proc.once("exit", () => {
      clearInterval(t);
      rej(new Error(out));
    });
  });
  const [tokenId, tokenSecret] = opts.reuse
    ? (opts.reuse.token.split(":") as [string, string])
    : [/SKIFF_TOKEN_ID=(\S+)/.exec(out)![1]!, /SKIFF_TOKEN_SECRET=(\S+)/.exec(out)![1]!];
  const client = new Client({ serverUrl: url, tokenId, tokenSecret, environment: "main" });
  const exited = new Promise((r) => proc.once("exit", r));
  return {
    url,
    env, // the first start wrote a profile for this server into its home
    client,
    token: `${tokenId}:${tokenSecret}`,
    proc,
    home,
    async stop() {
      client.close();
      proc.kill("SIGTERM");
      await exited;
      rmSync(home, { recursive: true, force: true });
    },
    async kill() {
      proc.kill("SIGKILL");
      await exited;
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
