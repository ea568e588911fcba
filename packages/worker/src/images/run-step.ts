import { spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { BuildTools } from "./capability.js";

/** Debian's PATH, with the bound-in Node first. */
export const IMAGE_PATH = "/opt/skiff/node/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** Where the runtime's Node (and npm, at build time) appear inside an image. */
export const NODE_INSIDE = "/opt/skiff/node";
/** Where npmInstall puts package.json and node_modules. */
export const NPM_PROJECT = "/opt/npm";

/** Variables of the builder's own environment a step sees, so it reaches the same registries. */
const PASSED = [
  "http_proxy",
  "https_proxy",
  "no_proxy",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "npm_config_registry",
];

export interface StepRun {
  root: string;
  /** Shared download caches: apt archives and lists, npm's cache. */
  cacheDir: string;
  env: Record<string, string>;
  workdir: string | undefined;
  argv: string[];
  onOutput: (text: string) => void;
  signal: AbortSignal;
}

/** The tail of a step's output kept for its error message. */
const TAIL_BYTES = 16 * 1024;

/**
 * Runs one build step in the layer's copy of its parent: bubblewrap with the copy as `/`,
 * uid 0 in a new user namespace (root of nothing on the host), the host's network (downloads),
 * and the runtime's Node bound in. Resolves with the exit status and the output's tail.
 */
export function runStep(tools: BuildTools, o: StepRun): Promise<{ code: number | null; tail: string }> {
  const caches = {
    apt: join(o.cacheDir, "apt-archives"),
    lists: join(o.cacheDir, "apt-lists"),
    npm: join(o.cacheDir, "npm"),
  };
  for (const d of Object.values(caches)) mkdirSync(join(d, "partial"), { recursive: true });
  const args = [
    "--die-with-parent",
    "--new-session",
    "--clearenv",
    "--unshare-user",
    "--uid",
    "0",
    "--gid",
    "0",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--share-net",
    "--cap-add",
    "ALL",
    "--bind",
    o.root,
    "/",
    "--dev",
    "/dev",
    "--proc",
    "/proc",
    "--tmpfs",
    "/tmp",
    "--bind",
    caches.apt,
    "/var/cache/apt/archives",
    "--bind",
    caches.lists,
    "/var/lib/apt/lists",
    "--bind",
    caches.npm,
    "/root/.npm",
    "--ro-bind",
    tools.node,
    `${NODE_INSIDE}/bin/node`,
  ];
  if (tools.npmDir) args.push("--ro-bind", tools.npmDir, `${NODE_INSIDE}/lib/node_modules/npm`);
  if (existsSync("/etc/resolv.conf")) args.push("--ro-bind", "/etc/resolv.conf", "/etc/resolv.conf");
  const ca = process.env.NODE_EXTRA_CA_CERTS;
  if (ca && existsSync(ca))
    args.push("--ro-bind", ca, "/opt/skiff/ca.crt", "--setenv", "NODE_EXTRA_CA_CERTS", "/opt/skiff/ca.crt");
  const env: Record<string, string> = {
    PATH: IMAGE_PATH,
    HOME: "/root",
    LANG: "C.UTF-8",
    DEBIAN_FRONTEND: "noninteractive",
    NODE_PATH: `${NPM_PROJECT}/node_modules`,
    npm_config_update_notifier: "false",
    npm_config_fund: "false",
    npm_config_audit: "false",
  };
  for (const k of PASSED) if (process.env[k]) env[k] = process.env[k]!;
  Object.assign(env, o.env);
  for (const [k, v] of Object.entries(env)) args.push("--setenv", k, v);
  args.push("--chdir", o.workdir ?? "/", "--", ...o.argv);
  return new Promise((resolve) => {
    const child = spawn(tools.bwrap, args, { stdio: ["ignore", "pipe", "pipe"], env: {} });
    let tail = "";
    const onData = (t: string) => {
      tail = (tail + t).slice(-TAIL_BYTES);
      o.onOutput(t);
    };
    child.stdout.setEncoding("utf8").on("data", onData);
    child.stderr.setEncoding("utf8").on("data", onData);
    const abort = () => child.kill("SIGKILL");
    o.signal.addEventListener("abort", abort, { once: true });
    child.on("error", (err) => onData(`could not start bubblewrap: ${err.message}\n`));
    child.on("close", (code, signal) => {
      o.signal.removeEventListener("abort", abort);
      resolve({ code: code ?? (signal ? 128 + 9 : null), tail });
    });
  });
}

/** Runs a host program (mmdebstrap), streaming its output. */
export function runHost(
  file: string,
  args: string[],
  onOutput: (text: string) => void,
  signal: AbortSignal,
): Promise<{ code: number | null; tail: string }> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"], detached: false });
    let tail = "";
    const onData = (t: string) => {
      tail = (tail + t).slice(-TAIL_BYTES);
      onOutput(t);
    };
    child.stdout.setEncoding("utf8").on("data", onData);
    child.stderr.setEncoding("utf8").on("data", onData);
    const abort = () => child.kill("SIGKILL");
    signal.addEventListener("abort", abort, { once: true });
    child.on("error", (err) => onData(`could not start ${file}: ${err.message}\n`));
    child.on("close", (code) => {
      signal.removeEventListener("abort", abort);
      resolve({ code, tail });
    });
  });
}
