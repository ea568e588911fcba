// A network namespace standing in for the internet: a veth pair with documentation addresses
// (203.0.113.0/30, TEST-NET-3), and an HTTP server inside it. Needs root; removed by stop().
import { type ChildProcess, execFileSync, spawn } from "node:child_process";

export interface FakeInternet {
  /** The server's address inside the namespace. */
  address: string;
  /** The host's end of the link (a host address, which containers must not reach). */
  hostAddress: string;
  port: number;
  stop(): Promise<void>;
}

const ip = (...args: string[]) => execFileSync("ip", args, { stdio: "pipe" });

/** Serves "inet-ok" at / and `bigBytes` zero bytes at /big. */
export async function startFakeInternet(bigBytes: number): Promise<FakeInternet> {
  const tag = String(process.pid % 100000);
  const ns = `skiff-inet-${tag}`;
  const host = `sih${tag}`;
  const peer = `sin${tag}`;
  ip("netns", "add", ns);
  let server: ChildProcess | undefined;
  try {
    ip("link", "add", host, "type", "veth", "peer", "name", peer);
    ip("link", "set", peer, "netns", ns);
    ip("addr", "add", "203.0.113.1/30", "dev", host);
    ip("link", "set", host, "up");
    ip("-n", ns, "addr", "add", "203.0.113.2/30", "dev", peer);
    ip("-n", ns, "link", "set", peer, "up");
    ip("-n", ns, "link", "set", "lo", "up");
    const code = `const big = Buffer.alloc(${bigBytes});
require("http").createServer((q, r) => q.url === "/big" ? r.end(big) : r.end("inet-ok"))
  .listen(8080, "203.0.113.2", () => console.log("ready"));`;
    server = spawn("ip", ["netns", "exec", ns, process.execPath, "-e", code], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve, reject) => {
      server!.stdout!.once("data", () => resolve());
      server!.once("exit", (c) => reject(new Error(`the fake internet's server exited (${c})`)));
    });
  } catch (err) {
    server?.kill("SIGKILL");
    try {
      ip("link", "del", host);
    } catch {}
    ip("netns", "del", ns);
    throw err;
  }
  return {
    address: "203.0.113.2",
    hostAddress: "203.0.113.1",
    port: 8080,
    async stop() {
      const exited = new Promise((r) => server!.once("exit", r));
      server!.kill("SIGKILL");
      await exited;
      try {
        ip("link", "del", host);
      } catch {}
      ip("netns", "del", ns);
    },
  };
}
