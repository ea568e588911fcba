import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "skiff";
import { postgres } from "./postgres.js";

export const REPO = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const SKIFF_BIN = join(REPO, "packages/cli/bin/skiff.js");
const TMP = join(REPO, "tmp", "test");

/** A scratch directory inside the repo (so apps written there resolve `skiff`). */
export function scratchDir(prefix: string): string {
  mkdirSync(TMP, { recursive: true });
  return mkdtempSync(join(TMP, `${prefix}-`));
}

/** Writes an app file and returns its path. */
export function writeApp(dir: string, name: string, code: string): string {
  const file = join(dir, name);
  writeFileSync(file, code);
  return file;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, with a hard time limit. */
export function runProcess(
  file: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((res, rej) => {
    const child = spawn(file, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd ?? REPO,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      rej(new Error(`${file} ${args.join(" ")} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.on("error", rej);
    child.on("close", (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}

/** Runs the real `skiff` CLI. */
export function skiff(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return runProcess(process.execPath, [SKIFF_BIN, ...args], opts);
}

/** An environment with no Skiff configuration at all (no server, no profile). */
export function bareEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    SKIFF_CONFIG_PATH: join(home, ".skiff.toml"),
  };
  for (const k of ["SKIFF_SERVER_URL", "SKIFF_TOKEN_ID", "SKIFF_TOKEN_SECRET", "SKIFF_ENVIRONMENT", "SKIFF_PROFILE"])
    delete env[k];
  return env;
}

export interface ServerProcess {
  url: string;
  dataDir: string;
  home: string;
  tokenId: string;
  tokenSecret: string;
  /** Env for CLI and client processes that use this server through the written profile. */
  env: NodeJS.ProcessEnv;
  proc: ChildProcess;
  output(): string;
  client(): Client;
  /** Graceful stop (SIGTERM) and cleanup. */
  stop(): Promise<void>;
  /** kill -9, leaving the data dir. */
  kill(): Promise<void>;
}

/** Starts `skiff server` on a free port with its own home, config and data dir. */
export async function startServer(
  opts: {
    args?: string[];
    home?: string;
    dataDir?: string;
    token?: { tokenId: string; tokenSecret: string };
    /** Open-file limit of the server process (set with prlimit). */
    maxOpenFiles?: number;
    /** Extra environment of the server process (not of the clients that use it). */
    serverEnv?: NodeJS.ProcessEnv;
  } = {},
): Promise<ServerProcess> {
  const home = opts.home ?? scratchDir("home");
  const dataDir = opts.dataDir ?? join(home, "data");
  const env = bareEnv(home);
  const store = await testStore(dataDir, opts.args);
  const argv = [
    process.execPath,
    SKIFF_BIN,
    "server",
    "--port",
    "0",
    "--data-dir",
    dataDir,
    ...store,
    // stop() is a graceful SIGTERM: a test's leftover running inputs need not hold it 30 s.
    ...(opts.args?.includes("--shutdown-grace-ms") ? [] : ["--shutdown-grace-ms", "1000"]),
    ...(opts.args ?? []),
  ];
  if (opts.maxOpenFiles) argv.unshift("prlimit", `--nofile=${opts.maxOpenFiles}:${opts.maxOpenFiles}`, "--");
  const proc = spawn(argv[0]!, argv.slice(1), {
    env: { ...env, ...opts.serverEnv },
    cwd: REPO,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const clients: Client[] = [];
  proc.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
  proc.stderr!.setEncoding("utf8").on("data", (d: string) => (out += d));
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL"); // not left running after the test gives up on it
      rej(new Error(`server did not start:\n${out}`));
    }, 20_000);
    const check = () => {
      const m = /listening on (https?:\/\/\S+)/.exec(out);
      // The token goes to stdout, "listening" to stderr: two pipes, either may arrive first. A
      // first start prints a token; wait for it too (a restart is given the token instead).
      if (m && (opts.token || /SKIFF_TOKEN_SECRET=\S+\n/.test(out))) {
        clearTimeout(timer);
        res(m[1]!);
      }
    };
    proc.stdout!.on("data", check);
    proc.stderr!.on("data", check);
    proc.on("exit", (code) => rej(new Error(`server exited (${code}):\n${out}`)));
  });
  const tokenId = /SKIFF_TOKEN_ID=(\S+)/.exec(out)?.[1] ?? opts.token?.tokenId ?? "";
  const tokenSecret = /SKIFF_TOKEN_SECRET=(\S+)/.exec(out)?.[1] ?? opts.token?.tokenSecret ?? "";
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  return {
    url,
    dataDir,
    home,
    tokenId,
    tokenSecret,
    env,
    proc,
    output: () => out,
    client() {
      const c = new Client({ serverUrl: url, tokenId, tokenSecret, environment: "main" });
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.close();
      proc.kill("SIGTERM");
      await exited;
      if (!opts.home) rmSync(home, { recursive: true, force: true });
    },
    async kill() {
      for (const c of clients) c.close();
      proc.kill("SIGKILL");
      await exited;
    },
  };
}

/**
 * The store a test server runs on: SQLite (the default), or with SKIFF_TEST_STORE=postgres a
 * fresh database of the run's Postgres cluster, the same one again when a test restarts a
 * server on the same data dir. SKIFF_STORE_METHOD_LOG passes through (see method-log.ts).
 */
async function testStore(dataDir: string, args: string[] | undefined): Promise<string[]> {
  if (process.env.SKIFF_TEST_STORE !== "postgres" || args?.includes("--store")) return [];
  const marker = join(dataDir, ".test-store-url");
  if (existsSync(marker)) return ["--store", readFileSync(marker, "utf8")];
  const url = await (await postgres()).createDatabase("e2e");
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(marker, url);
  return ["--store", url];
}

type Falsy = undefined | null | false | 0 | "";

/** Polls `fn` until it returns a truthy value, and returns it. */
export async function waitFor<T>(
  fn: () => Promise<T | Falsy>,
  what: string,
  timeoutMs = 15_000,
): Promise<Exclude<T, Falsy>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as Exclude<T, Falsy>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
