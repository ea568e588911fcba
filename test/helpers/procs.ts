import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";

/** Pids of processes whose command line contains `needle` (containers of one server). */
export function pidsMatching(needle: string): number[] {
  try {
    const out = execFileSync("pgrep", ["-f", needle], { encoding: "utf8" });
    return out
      .split("\n")
      .filter(Boolean)
      .map(Number)
      .filter((p) => p !== process.pid);
  } catch {
    return [];
  }
}

/**
 * Container processes (sandboxed or plain runtimes, pooled ones included): processes that run
 * the container runtime, started by the server's command helper (spawner-main.js) or, before
 * it was ready, by the server itself. The server has other children (since containers got a
 * network namespace: pasta for spare namespaces, `ip netns`, nsenter) that are not containers:
 * counted or killed as containers they would skew what a test measures.
 */
export function containerPids(serverPid: number): number[] {
  const kids = childrenOf(serverPid);
  const helper = kids.find(isCommandHelper);
  return [...kids, ...(helper ? childrenOf(helper) : [])].filter((pid) => RUNTIME_ENTRY.test(cmdline(pid)));
}

/** The server's command helper (it starts the containers' processes), if it runs. */
export function commandHelperPid(serverPid: number): number | undefined {
  return childrenOf(serverPid).find(isCommandHelper);
}

const isCommandHelper = (pid: number) => cmdline(pid).includes("/spawner-main.js\0");

export function childrenOf(pid: number): number[] {
  try {
    return execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Its argv, NUL-separated ("" once it is gone). */
function cmdline(pid: number): string {
  try {
    // The runtime's entry point is in the argv of the sandbox (or of node, unsandboxed):
    // the bundled runtime's (/opt/skiff-runtime/main.js, …/runtime-bundle/main.js,
    // /opt/skiff/rt/main.js in an image) or, where it is not built, the module graph's.
    return readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return "";
  }
}

const RUNTIME_ENTRY = /\/(runtime|skiff-runtime|runtime-bundle|opt\/skiff\/rt)\/main\.js\0/;

export function killPids(pids: number[]): void {
  for (const p of pids) {
    try {
      process.kill(p, "SIGKILL");
    } catch {}
  }
}

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

/** Resident memory of a process in KiB (from /proc), 0 once it is gone. */
export function rssKiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * A loopback address where nothing answers a connection, as a host behind a firewall that
 * drops packets: a process listening with a backlog of 1 that never accepts (its event loop is
 * blocked), whose queue is filled first, so further connection attempts go unanswered.
 */
export async function silentHost(): Promise<{ url: string; close(): void }> {
  const child = spawn(
    process.execPath,
    [
      "-e",
      `const s = require("node:net").createServer();
s.listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
  console.log(s.address().port);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
});`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once("data", (d: Buffer) => resolve(Number(String(d).trim())));
    child.once("exit", (code) => reject(new Error(`silent host exited (${code})`)));
  });
  const fillers: Socket[] = [];
  // The accept queue holds backlog + 1 connections; once they are in, the kernel drops SYNs.
  for (let i = 0; i < 2; i++)
    fillers.push(
      await new Promise<Socket>((r) => {
        const c = connect(port, "127.0.0.1", () => r(c));
      }),
    );
  return {
    url: `http://127.0.0.1:${port}`,
    close() {
      for (const f of fillers) f.destroy();
      child.kill("SIGKILL");
    },
  };
}
